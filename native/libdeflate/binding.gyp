# The native bindings, built by `npm ci` through the root package's install script
# (scripts/build-native.mjs):
# - oob_file_times: file times to the nanosecond (src/engine/fs/file-times.ts); needs nothing but
#   the C library. First, so that it is built even when the next one fails.
# - oob_libdeflate (src/engine/gzip/libdeflate.ts): links Debian's libdeflate (packages
#   libdeflate-dev to build, libdeflate0 to run).
{
  "targets": [
    {
      "target_name": "oob_file_times",
      "sources": ["file-times.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "oob_libdeflate",
      "sources": ["gzip-member.c"],
      "libraries": ["-ldeflate"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
