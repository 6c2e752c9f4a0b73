"""The wrapper's two tool targets.

Run from source with a declared Deno, or compiled by `deno compile`.
"""

# The wrapper's run-time permissions (why all: scripts/compile.ts).
_PERMISSIONS = ["--allow-all"]

def _runfiles_path(ctx, file):
    """Where `file` is under a tool's runfiles directory."""
    if file.short_path.startswith("../"):
        return file.short_path[3:]
    return ctx.workspace_name + "/" + file.short_path

def _deno_source_tool_impl(ctx):
    launcher = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.write(
        output = launcher,
        is_executable = True,
        content = """#!/bin/sh
# Runs main.ts with the declared Deno, both found in this tool's runfiles.
set -eu
runfiles="$0.runfiles"
[ -d "$runfiles" ] || runfiles="${{RUNFILES_DIR:-}}"
if [ ! -d "$runfiles" ]; then
    # Given only this file, with no runfiles (rules_rust's rust_doc_test, whose runner also
    # clears the environment): the runfiles tree Bazel made beside the real file, outside the
    # test's inputs. The compiled target, one file, needs none.
    runfiles="$(readlink -f "$0").runfiles"
fi
[ -d "$runfiles" ] || {{ echo "process wrapper: no runfiles for $0 (tried $runfiles)" >&2; exit 1; }}
# Deno caches transpiled sources; actions may have no HOME (without a writable one it runs uncached).
: "${{DENO_DIR:=${{TMPDIR:-${{TEST_TMPDIR:-/tmp}}}}/deno-process-wrapper-$(id -u)}}"
export DENO_DIR DENO_NO_UPDATE_CHECK=1
exec "$runfiles/{deno}" run --quiet --no-lock {permissions} "$runfiles/{main}" "$@"
""".format(
            deno = _runfiles_path(ctx, ctx.file.deno),
            main = _runfiles_path(ctx, ctx.file.main),
            permissions = " ".join(_PERMISSIONS),
        ),
    )
    return [DefaultInfo(
        executable = launcher,
        runfiles = ctx.runfiles(files = [ctx.file.deno, ctx.file.main] + ctx.files.srcs),
    )]

deno_source_tool = rule(
    implementation = _deno_source_tool_impl,
    executable = True,
    attrs = {
        "deno": attr.label(allow_single_file = True, mandatory = True, cfg = "exec"),
        "main": attr.label(allow_single_file = [".ts"], mandatory = True),
        "srcs": attr.label_list(allow_files = True),
    },
    doc = "The wrapper run from source: a launcher script running main.ts with a declared Deno.",
)

def _deno_compiled_tool_impl(ctx):
    binary = ctx.actions.declare_file(ctx.label.name)
    args = ctx.actions.args()
    args.add("compile")
    args.add_all(_PERMISSIONS)
    for worker in ctx.files.worker_modules:
        args.add("--include", worker)
    args.add("--no-lock")
    args.add("--output", binary)
    args.add(ctx.file.main)
    ctx.actions.run_shell(
        # deno compile wants a writable DENO_DIR; DENORT_BIN keeps it offline.
        command = 'DENO_DIR="$(mktemp -d)" DENORT_BIN="$PWD/$1" "$2" "${@:3}"',
        arguments = [ctx.file.denort.path, ctx.file.deno.path, args],
        inputs = [ctx.file.main, ctx.file.denort] + ctx.files.srcs + ctx.files.worker_modules,
        tools = [ctx.file.deno],
        outputs = [binary],
        mnemonic = "DenoCompile",
        progress_message = "deno compile " + str(ctx.label),
    )
    return [DefaultInfo(executable = binary, files = depset([binary]))]

deno_compiled_tool = rule(
    implementation = _deno_compiled_tool_impl,
    executable = True,
    attrs = {
        "deno": attr.label(allow_single_file = True, mandatory = True, cfg = "exec"),
        "denort": attr.label(allow_single_file = True, mandatory = True),
        "main": attr.label(allow_single_file = [".ts"], mandatory = True),
        "srcs": attr.label_list(allow_files = True),
        "worker_modules": attr.label_list(
            allow_files = [".ts"],
            doc = "Modules loaded only as workers.",
        ),
    },
    doc = "The wrapper as one executable, built by `deno compile` with a pinned Deno and denort.",
)
