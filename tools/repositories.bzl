"""Repositories the wrapper's tool targets take Deno and its `denort` runtime from.

A consuming WORKSPACE:

    local_repository(name = "deno_process_wrapper", path = "...")  # or http_archive
    load("@deno_process_wrapper//tools:repositories.bzl", "deno_process_wrapper_repositories")
    deno_process_wrapper_repositories(denort_sha256 = "...")

Deno 2.9.6 comes from the npm registry (the `@deno/linux-x64-glibc` package
that `npx deno@2.9.6` runs), pinned by sha256. `denort` comes from
https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip
(mirror: https://github.com/denoland/deno/releases/download/v2.9.6/denort-x86_64-unknown-linux-gnu.zip);
its sha256 is an argument because it could not be measured where this was
written (no route to either host): compute it once with
`curl -L <url> | sha256sum`. Only the compiled tool target needs it.

Offline, `deno_path` / `denort_path` use binaries already on the machine.
"""

DENO_VERSION = "2.9.6"

# sha256 of https://registry.npmjs.org/@deno/linux-x64-glibc/-/linux-x64-glibc-2.9.6.tgz
# (npm's own integrity for it: sha512-3md4TKLCuzsLDmfOoC5KN7NAZaxSVkMgm64vg6foD00JBADCpYS2/5QqXfzgnP5ZQz3iLP9vBQJtEgc116OAoQ==)
DENO_NPM_SHA256 = "a6596af07f3570b4f1ffa6783bfee9942aac14a719a601baa6bf5b71bf0105e2"

DENO_NPM_URL = "https://registry.npmjs.org/@deno/linux-x64-glibc/-/linux-x64-glibc-{v}.tgz".format(
    v = DENO_VERSION,
)

_DENORT_ZIP = "v{v}/denort-x86_64-unknown-linux-gnu.zip".format(v = DENO_VERSION)

DENORT_URLS = [
    "https://dl.deno.land/release/" + _DENORT_ZIP,
    "https://github.com/denoland/deno/releases/download/" + _DENORT_ZIP,
]

def _single_binary_impl(repository_ctx):
    name = repository_ctx.attr.binary
    if repository_ctx.attr.path:
        path = repository_ctx.path(repository_ctx.attr.path)
        if not path.exists:
            fail("{}: {} does not exist".format(repository_ctx.name, path))
        repository_ctx.symlink(path, name)
    else:
        if not repository_ctx.attr.sha256:
            fail(("{}: no sha256 for {}; pass it (curl -L {} | sha256sum) " +
                  "or a local binary's path").format(
                repository_ctx.name,
                name,
                repository_ctx.attr.urls[0],
            ))
        repository_ctx.download_and_extract(
            url = repository_ctx.attr.urls,
            sha256 = repository_ctx.attr.sha256,
            stripPrefix = repository_ctx.attr.strip_prefix,
        )
    repository_ctx.file(
        "BUILD.bazel",
        'exports_files(["{}"], visibility = ["//visibility:public"])\n'.format(name),
    )

single_binary = repository_rule(
    implementation = _single_binary_impl,
    attrs = {
        "binary": attr.string(mandatory = True, doc = "The file the repository exports."),
        "path": attr.string(doc = "A local binary to use instead of downloading."),
        "sha256": attr.string(doc = "The archive's sha256 (required when downloading)."),
        "strip_prefix": attr.string(),
        "urls": attr.string_list(),
    },
    doc = "One executable, downloaded by sha256 or taken from a local path.",
)

def deno_process_wrapper_repositories(deno_path = None, denort_sha256 = None, denort_path = None):
    """Declares @deno_process_wrapper_deno and @deno_process_wrapper_denort.

    Args:
      deno_path: a local deno to use instead of the pinned download.
      denort_sha256: sha256 of the denort zip (needed to download it).
      denort_path: a local denort of the same version instead of the download.
    """
    single_binary(
        name = "deno_process_wrapper_deno",
        binary = "deno",
        path = deno_path or "",
        sha256 = DENO_NPM_SHA256,
        strip_prefix = "package",
        urls = [DENO_NPM_URL],
    )
    single_binary(
        name = "deno_process_wrapper_denort",
        binary = "denort",
        path = denort_path or "",
        sha256 = denort_sha256 or "",
        urls = DENORT_URLS,
    )
