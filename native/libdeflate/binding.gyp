# The libdeflate binding (src/engine/gzip/libdeflate.ts loads it). Built by `npm ci` through the
# root package's install script (scripts/build-native.mjs); links Debian's libdeflate
# (packages libdeflate-dev to build, libdeflate0 to run).
{
  "targets": [
    {
      "target_name": "oob_libdeflate",
      "sources": ["gzip-member.c"],
      "libraries": ["-ldeflate"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
