/*
 * One whole gzip member inflated by libdeflate, in libuv's threadpool.
 *
 * Our archives are independent gzip members of a few MiB each (src/engine/gzip/gzip-members.ts),
 * whose lengths are known before they are inflated: exactly libdeflate's whole-buffer model, which
 * inflates them about twice as fast as zlib (BENCHMARKS.md). There is no maintained npm binding
 * (the `libdeflate` package is WebAssembly and compresses only), hence this one function:
 *
 *   gzipDecompress(member, output) -> Promise<void>
 *     inflates one complete gzip member, which must fill `output` exactly and end exactly at the end
 *     of `member`; libdeflate checks the CRC-32 and the length in the trailer.
 *
 *   mallocTrim() -> boolean | undefined
 *     glibc's malloc_trim(0) (below): not libdeflate's, but this is the project's one binding.
 *
 * (Compression stays with Node's zlib, which makes smaller members on database pages.) JavaScript
 * must not touch the buffers until the promise settles; they are referenced meanwhile, so the
 * garbage collector cannot free them. No state is shared between calls but a decompressor per
 * threadpool thread.
 */
#include <node_api.h>
#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* Outcomes of the threadpool part beyond libdeflate's own results. */
enum { OK = 0, NO_MEMORY = -1, LENGTH_MISMATCH = -2 };

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref in_ref, out_ref;
  const uint8_t *in;
  size_t in_len;
  uint8_t *out;
  size_t out_len;
  int status; /* OK, NO_MEMORY, LENGTH_MISMATCH or a libdeflate_result */
} job_t;

/* One decompressor per threadpool thread, kept for the life of the process (a few KiB). */
static _Thread_local struct libdeflate_decompressor *tl_decompressor;

static void execute(napi_env env, void *data) {
  (void)env;
  job_t *j = data;
  if (!tl_decompressor) tl_decompressor = libdeflate_alloc_decompressor();
  if (!tl_decompressor) {
    j->status = NO_MEMORY;
    return;
  }
  size_t used = 0, made = 0;
  enum libdeflate_result r = libdeflate_gzip_decompress_ex(tl_decompressor, j->in, j->in_len, j->out, j->out_len, &used, &made);
  if (r != LIBDEFLATE_SUCCESS) j->status = (int)r;
  else j->status = used == j->in_len && made == j->out_len ? OK : LENGTH_MISMATCH;
}

static napi_value make_error(napi_env env, const char *code, const char *message) {
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  return err;
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *j = data;
  napi_value value;
  int ok = 0;
  if (status != napi_ok) {
    value = make_error(env, "ERR_LIBDEFLATE", "libdeflate job was cancelled");
  } else if (j->status == NO_MEMORY) {
    value = make_error(env, "ERR_LIBDEFLATE", "libdeflate: out of memory");
  } else if (j->status == OK) {
    napi_get_undefined(env, &value);
    ok = 1;
  } else if (j->status == LIBDEFLATE_INSUFFICIENT_SPACE) {
    value = make_error(env, "Z_DATA_ERROR", "member longer than its index says");
  } else if (j->status == LENGTH_MISMATCH) {
    value = make_error(env, "Z_DATA_ERROR", "member length does not match its index");
  } else {
    value = make_error(env, "Z_DATA_ERROR", "invalid deflate data, CRC-32 or length in a gzip member");
  }
  if (ok) napi_resolve_deferred(env, j->deferred, value);
  else napi_reject_deferred(env, j->deferred, value);
  napi_delete_reference(env, j->in_ref);
  napi_delete_reference(env, j->out_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

static napi_value gzip_decompress(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) return fail(env, "missing arguments");
  bool is_buffer = false;
  void *in, *out;
  size_t in_len, out_len;
  if (napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) return fail(env, "member must be a Buffer");
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) return fail(env, "output must be a Buffer");
  napi_get_buffer_info(env, argv[0], &in, &in_len);
  napi_get_buffer_info(env, argv[1], &out, &out_len);
  job_t *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, "ERR_LIBDEFLATE", "libdeflate: out of memory");
    return NULL;
  }
  j->in = in;
  j->in_len = in_len;
  j->out = out;
  j->out_len = out_len;
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_reference(env, argv[0], 1, &j->in_ref);
  napi_create_reference(env, argv[1], 1, &j->out_ref);
  napi_create_string_utf8(env, "libdeflate.gzipDecompress", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

/*
 * mallocTrim() -> boolean | undefined: glibc's malloc_trim(0), which gives the free pages of every
 * malloc arena back to the kernel, also those between chunks still in use (why:
 * releaseFreedMemory in src/engine/gzip/gc-nudge.ts). undefined where the C library is not glibc.
 */
static napi_value malloc_trim_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
#ifdef __GLIBC__
  napi_get_boolean(env, malloc_trim(0) == 1, &result);
#else
  napi_get_undefined(env, &result);
#endif
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value version;
  napi_create_string_utf8(env, LIBDEFLATE_VERSION_STRING, NAPI_AUTO_LENGTH, &version);
  napi_property_descriptor props[] = {
    { "gzipDecompress", NULL, gzip_decompress, NULL, NULL, NULL, napi_enumerable, NULL },
    { "mallocTrim", NULL, malloc_trim_js, NULL, NULL, NULL, napi_enumerable, NULL },
    { "version", NULL, NULL, NULL, NULL, version, napi_enumerable, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
