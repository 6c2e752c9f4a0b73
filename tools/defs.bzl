"""A from-source tool target: a launcher script plus the wrapper's sources as runfiles."""

def _source_tool_impl(ctx):
    executable = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(output = executable, target_file = ctx.file.launcher, is_executable = True)
    return [DefaultInfo(
        executable = executable,
        runfiles = ctx.runfiles(files = ctx.files.srcs),
    )]

source_tool = rule(
    implementation = _source_tool_impl,
    executable = True,
    attrs = {
        "launcher": attr.label(allow_single_file = True, mandatory = True),
        "srcs": attr.label_list(allow_files = True),
    },
    doc = "Runs main.ts with the host's deno (sh_binary would need rules_cc, which is not offline).",
)
