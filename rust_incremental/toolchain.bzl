"""A repository exposing the host's rustc (rules_rust downloads one; this stays offline)."""

def _host_rustc_impl(repository_ctx):
    rustc = (
        repository_ctx.attr.rustc or
        repository_ctx.os.environ.get("RUSTC") or
        repository_ctx.which("rustc")
    )
    if not rustc:
        fail("host_rustc: no rustc on PATH; set RUSTC or the rustc attribute")
    result = repository_ctx.execute([rustc, "--print", "sysroot"])
    if result.return_code != 0:
        fail("host_rustc: {} --print sysroot failed: {}".format(rustc, result.stderr))

    # The real binary, not a rustup proxy: rustc finds its sysroot from its own path.
    repository_ctx.symlink(result.stdout.strip() + "/bin/rustc", "rustc")
    repository_ctx.file(
        "BUILD.bazel",
        'exports_files(["rustc"], visibility = ["//visibility:public"])\n',
    )

host_rustc = repository_rule(
    implementation = _host_rustc_impl,
    attrs = {"rustc": attr.string(doc = "Path of rustc; default: $RUSTC, then PATH.")},
    environ = ["RUSTC", "PATH"],
    local = True,
    doc = "Exports the host toolchain's rustc as @<name>//:rustc.",
)
