"""The module extension: Deno for every exec platform, and `denort` for the compiled target.

In MODULE.bazel (this repository's does it for its own use):

    deno = use_extension("@deno_process_wrapper//tools:extensions.bzl", "deno")
    deno.denort(sha256 = "...")  # only for :process_wrapper_compiled; or path = "/local/denort"
"""

load(":repositories.bzl", "deno_process_wrapper_repositories")

_denort = tag_class(
    attrs = {
        "path": attr.string(doc = "A local denort of Deno 2.9.6 instead of the download."),
        "sha256": attr.string(doc = "The sha256 of the denort zip (curl -L <url> | sha256sum)."),
    },
    doc = "Where `deno compile` takes its runtime from (the root module's tag wins).",
)

def _deno_impl(module_ctx):
    denort = struct(path = "", sha256 = "")
    for module in module_ctx.modules:
        for tag in module.tags.denort:
            if module.is_root or not (denort.path or denort.sha256):
                denort = tag
    deno_process_wrapper_repositories(
        denort_path = denort.path or None,
        denort_sha256 = denort.sha256 or None,
    )

deno = module_extension(
    implementation = _deno_impl,
    tag_classes = {"denort": _denort},
    doc = "Declares @deno_process_wrapper_deno (per exec platform) and @deno_process_wrapper_denort.",
)
