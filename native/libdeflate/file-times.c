/*
 * File times to the nanosecond (src/engine/fs/file-times.ts loads this).
 *
 * Node's futimes/lutimes/utimes take a Date or a double of seconds, so a time such as
 * 1700000000.123456789 (a pax archive's mtime, which GNU tar restores exactly) cannot be given
 * exactly, and a Date keeps milliseconds only. These pass seconds and nanoseconds as they are:
 *
 *   futimens(fd, atimeSec, atimeNsec, mtimeSec, mtimeNsec)
 *   lutimensat(path, atimeSec, atimeNsec, mtimeSec, mtimeNsec)   utimensat(AT_FDCWD, path, ...,
 *       AT_SYMLINK_NOFOLLOW): a symlink's own times; `path` a Buffer (names are bytes) or a binary
 *       string (one char per byte)
 *   UTIME_OMIT: as a nanosecond value, leaves that time as it is (GNU tar's extraction leaves atime)
 *
 * Seconds are integers as a number (any safe integer: before 1970, beyond 2^31) or a BigInt;
 * nanoseconds 0 ... 999999999 or UTIME_OMIT. A failed call throws an Error like Node's (code
 * 'ENOENT', errno -2, syscall). No libdeflate here: its own target in binding.gyp, so it is built
 * even where libdeflate-dev is missing.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static napi_value type_error(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

static napi_value range_error(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  return NULL;
}

/* An Error as Node's fs throws it: "ENOENT: no such file or directory, utimensat". */
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char text[256];
  snprintf(text, sizeof text, "%s: %s, %s", uv_err_name(-err), uv_strerror(-err), syscall);
  napi_value message, error, value;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "code", value);
  napi_create_int32(env, -err, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "syscall", value);
  napi_throw(env, error);
  return NULL;
}

/* Whole seconds from a number (an integer, exactly) or a BigInt. */
static int get_seconds(napi_env env, napi_value v, time_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    int64_t s;
    bool lossless;
    if (napi_get_value_bigint_int64(env, v, &s, &lossless) != napi_ok || !lossless) return 0;
    *out = (time_t)s;
    return 1;
  }
  double d;
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok) return 0;
  /* 2^53: the integers a double holds exactly (NaN fails here too); time_t is 64 bits on every
     Linux Node runs on. */
  if (!(d >= -9007199254740992.0 && d <= 9007199254740992.0) || (double)(int64_t)d != d) return 0;
  *out = (time_t)d;
  return 1;
}

static int get_nsec(napi_env env, napi_value v, long *out) {
  int32_t n;
  if (napi_get_value_int32(env, v, &n) != napi_ok) return 0;
  double d;
  napi_get_value_double(env, v, &d); /* int32 conversion truncates: only exact integers pass */
  if (d != (double)n || ((n < 0 || n > 999999999) && n != UTIME_OMIT)) return 0;
  *out = n;
  return 1;
}

/* argv[1..4] into ts[0] (atime) and ts[1] (mtime); 0 after throwing. */
static int get_times(napi_env env, napi_value *argv, struct timespec ts[2]) {
  for (int i = 0; i < 2; i++) {
    if (!get_seconds(env, argv[1 + 2 * i], &ts[i].tv_sec)) {
      range_error(env, "seconds must be a safe integer or a BigInt");
      return 0;
    }
    if (!get_nsec(env, argv[2 + 2 * i], &ts[i].tv_nsec)) {
      range_error(env, "nanoseconds must be an integer 0 ... 999999999 or UTIME_OMIT");
      return 0;
    }
  }
  return 1;
}

static napi_value futimens_js(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 5) return type_error(env, "futimens(fd, atimeSec, atimeNsec, mtimeSec, mtimeNsec)");
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return type_error(env, "fd must be a descriptor");
  struct timespec ts[2];
  if (!get_times(env, argv, ts)) return NULL;
  if (futimens(fd, ts) != 0) return throw_errno(env, errno, "futimens");
  return NULL;
}

static napi_value lutimensat_js(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 5) return type_error(env, "lutimensat(path, atimeSec, atimeNsec, mtimeSec, mtimeNsec)");
  struct timespec ts[2];
  if (!get_times(env, argv, ts)) return NULL;
  bool is_buffer = false;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  napi_is_buffer(env, argv[0], &is_buffer);
  char *path = NULL;
  size_t len = 0;
  if (is_buffer) {
    void *data;
    napi_get_buffer_info(env, argv[0], &data, &len);
    path = malloc(len + 1);
    if (path) memcpy(path, data, len);
  } else if (t == napi_string) {
    /* Latin-1: each char of a binary string is one byte. */
    napi_get_value_string_latin1(env, argv[0], NULL, 0, &len);
    path = malloc(len + 1);
    if (path) napi_get_value_string_latin1(env, argv[0], path, len + 1, &len);
  } else {
    return type_error(env, "path must be a Buffer or a string");
  }
  if (!path) return throw_errno(env, ENOMEM, "utimensat");
  path[len] = '\0';
  int err = 0;
  /* A NUL inside the name would silently name another file. */
  if (memchr(path, '\0', len)) err = EINVAL;
  else if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0) err = errno;
  free(path);
  if (err) return throw_errno(env, err, "utimensat");
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value omit;
  napi_create_int32(env, UTIME_OMIT, &omit);
  napi_property_descriptor props[] = {
    { "futimens", NULL, futimens_js, NULL, NULL, NULL, napi_enumerable, NULL },
    { "lutimensat", NULL, lutimensat_js, NULL, NULL, NULL, napi_enumerable, NULL },
    { "UTIME_OMIT", NULL, NULL, NULL, NULL, omit, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
