"""Repositories the wrapper's tool targets take Deno and its `denort` runtime from.

A consuming WORKSPACE:

    local_repository(name = "deno_process_wrapper", path = "...")  # or http_archive
    load("@deno_process_wrapper//tools:repositories.bzl", "deno_process_wrapper_repositories")
    deno_process_wrapper_repositories(denort_sha256 = "...")

Deno 2.9.6 comes from the npm registry (the `@deno/<platform>` packages that
`npx deno@2.9.6` runs), each pinned by sha256; `@deno_process_wrapper_deno//:deno`
picks the exec platform's, so only that one is downloaded. `denort` comes from
https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip
(mirror: https://github.com/denoland/deno/releases/download/v2.9.6/denort-x86_64-unknown-linux-gnu.zip);
its sha256 is an argument because it could not be measured where this was
written (no route to either host): compute it once with
`curl -L <url> | sha256sum`. Only the compiled tool target needs it.

Offline, `deno_path` / `denort_path` use binaries already on the machine.
"""

DENO_VERSION = "2.9.6"

# The npm packages `npx deno@2.9.6` picks from, one per platform, each pinned by the sha256 of
# https://registry.npmjs.org/@deno/<package>/-/<package>-2.9.6.tgz (computed from the downloads).
DENO_NPM_PACKAGES = {
    "darwin-arm64": struct(
        binary = "deno",
        constraints = ["@platforms//os:macos", "@platforms//cpu:aarch64"],
        sha256 = "60321cf03244e275589f0d099575bfc739c72ff5aa6e9d19d47d8f0757c24bad",
    ),
    "darwin-x64": struct(
        binary = "deno",
        constraints = ["@platforms//os:macos", "@platforms//cpu:x86_64"],
        sha256 = "7de9ca51343ef2f2ef1996e4a673d37920386681c3fef4aa964638ec62df398f",
    ),
    "linux-arm64-glibc": struct(
        binary = "deno",
        constraints = ["@platforms//os:linux", "@platforms//cpu:aarch64"],
        sha256 = "8e32a9c72c84c14f91fde26efbef0b5f347286f3c68b4b7d4b8040ae9e6f42ec",
    ),
    "linux-x64-glibc": struct(
        binary = "deno",
        constraints = ["@platforms//os:linux", "@platforms//cpu:x86_64"],
        sha256 = "a6596af07f3570b4f1ffa6783bfee9942aac14a719a601baa6bf5b71bf0105e2",
    ),
    "win32-x64": struct(
        binary = "deno.exe",
        constraints = ["@platforms//os:windows", "@platforms//cpu:x86_64"],
        sha256 = "559b622e642210e0f0af0e4581953a0a9679a21968a57b7dc8a1b1a91d09b67f",
    ),
}

def deno_npm_url(package):
    """The npm registry's tarball of Deno for one platform.

    Args:
      package: a key of DENO_NPM_PACKAGES.

    Returns:
      The URL.
    """
    return "https://registry.npmjs.org/@deno/{p}/-/{p}-{v}.tgz".format(p = package, v = DENO_VERSION)

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

def _deno_repository_name(package):
    return "deno_process_wrapper_deno_" + package.replace("-", "_")

def _deno_for_exec_platform_impl(repository_ctx):
    settings = []
    choices = []
    for package, deno in DENO_NPM_PACKAGES.items():
        settings.append("config_setting(\n    name = {name},\n    constraint_values = {constraints},\n)\n".format(
            name = repr(package),
            constraints = repr(deno.constraints),
        ))
        choices.append("        {setting}: {target},".format(
            setting = repr(":" + package),
            target = repr("@{}//:{}".format(_deno_repository_name(package), deno.binary)),
        ))
    repository_ctx.file("BUILD.bazel", "\n".join([
        "# Deno for the platform the action runs on: the tool targets take it with cfg = \"exec\".",
        "",
    ] + settings + [
        "alias(",
        '    name = "deno",',
        "    actual = select({",
    ] + choices + [
        "    }),",
        '    visibility = ["//visibility:public"],',
        ")",
        "",
    ]))

_deno_for_exec_platform = repository_rule(
    implementation = _deno_for_exec_platform_impl,
    doc = "`:deno`, the pinned Deno of the exec platform (only that one is downloaded).",
)

def deno_process_wrapper_repositories(deno_path = None, denort_sha256 = None, denort_path = None):
    """Declares @deno_process_wrapper_deno and @deno_process_wrapper_denort.

    Args:
      deno_path: a local deno to use instead of the pinned downloads.
      denort_sha256: sha256 of the denort zip (needed to download it).
      denort_path: a local denort of the same version instead of the download.
    """
    if deno_path:
        single_binary(
            name = "deno_process_wrapper_deno",
            binary = "deno",
            path = deno_path,
        )
    else:
        for package, deno in DENO_NPM_PACKAGES.items():
            single_binary(
                name = _deno_repository_name(package),
                binary = deno.binary,
                sha256 = deno.sha256,
                strip_prefix = "package",
                urls = [deno_npm_url(package)],
            )
        _deno_for_exec_platform(name = "deno_process_wrapper_deno")
    single_binary(
        name = "deno_process_wrapper_denort",
        binary = "denort",
        path = denort_path or "",
        sha256 = denort_sha256 or "",
        urls = DENORT_URLS,
    )
