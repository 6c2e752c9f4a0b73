"""rust_library and rust_binary, built the way rules_rust drives its process
wrapper, with the incremental design of rules_rust PR 3925:

For an incremental crate (`--//settings:incremental=true`, not `opt`, not in
the exec configuration, in the main workspace):

1. `RustcIncrSeed` (no-sandbox, no-cache, no-remote) copies the previous
   build's incremental tree out of bazel-out into a seed tree:
   `--seed-prev-dir <incr tree> <seed tree> --seed-min-mb N --exit-early true`.
2. `Rustc` compiles with `--copy-seed <seed tree> <incr tree> --seed-min-mb N
   --write-unused-inputs <list> <seed tree>` in front of the usual wrapper
   flags, `-Cincremental=<incr tree>` on rustc, and `unused_inputs_list`, so
   the ever-changing seed never changes its cache key.
3. `RustcMetadata` emits the `.rmeta` (`--emit=metadata`,
   `--rustc-quit-on-rmeta true`) with an incremental tree of its own: a
   metadata build and a full build cannot share one.

rustc reuses its cache only from the same working directory, and each
sandboxed action runs in a directory of its own, so the incremental compile
runs unsandboxed unless `--//settings:incremental_sandboxed=true` (then it
seeds, but rustc reuses nothing).
"""

load(":settings.bzl", "SettingInfo")

RustCrateInfo = provider(
    doc = "A compiled library crate.",
    fields = {
        "crate_name": "The name other crates `--extern` it by.",
        "rlib": "The full library.",
        "rmeta": "Its metadata.",
        "transitive_rlibs": "depset of the rlibs of it and everything it depends on.",
        "transitive_rmetas": "depset of the rmetas of it and everything it depends on.",
    },
)

def _is_incremental(ctx):
    return (
        ctx.attr._incremental[SettingInfo].value and
        ctx.var["COMPILATION_MODE"] != "opt" and
        "-exec-" not in ctx.bin_dir.path and
        ctx.label.workspace_name == ""
    )

def _crate_name(ctx):
    return ctx.attr.crate_name or ctx.label.name.replace("-", "_")

def _flagfile_args(ctx):
    """Args for a whole wrapper command line, in a flagfile: a persistent worker
    gets it as a request, a one-shot run as a leading `@flagfile`."""
    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    return args

def _wrapper_inputs(ctx, env_file, arg_file):
    """The sources and the files the wrapper flags name."""
    inputs = ctx.files.srcs + [env_file, arg_file]
    if ctx.attr.stamp:
        inputs += [ctx.info_file, ctx.version_file]
    return inputs

def _wrapper_args(ctx, pre_flags, env_file, arg_file, output_file):
    """The flags rules_rust gives the process wrapper in front of every rustc."""
    args = _flagfile_args(ctx)
    args.add_all(pre_flags)
    args.add("--subst", "pwd=${pwd}")
    args.add("--env-file", env_file)
    args.add("--arg-file", arg_file)
    if ctx.attr.stamp:
        args.add("--stable-status-file", ctx.info_file)
        args.add("--volatile-status-file", ctx.version_file)
    args.add("--rustc-output-format", "rendered")
    args.add("--output-file", output_file)
    return args

def _add_rustc_flags(ctx, args, crate_type, emit, incremental_dir, deps, use_rmeta):
    """Adds `-- rustc ...` to `args`; returns the libraries rustc reads."""
    args.add("--")
    args.add(ctx.executable._rustc)
    args.add(ctx.file.crate_root)
    args.add("--crate-name", _crate_name(ctx))
    args.add("--crate-type", crate_type)
    args.add("--edition", ctx.attr.edition)
    args.add(emit)
    args.add("--error-format=json")
    args.add("--json=artifacts,diagnostic-rendered-ansi")
    args.add("--remap-path-prefix=${pwd}=.")
    args.add("-Cdebuginfo=0")
    if incremental_dir:
        args.add("-Cincremental=" + incremental_dir.path)
    for dep in deps:
        info = dep[RustCrateInfo]
        args.add("--extern", "{}={}".format(info.crate_name, (info.rmeta if use_rmeta else info.rlib).path))
    libraries = depset(transitive = [
        dep[RustCrateInfo].transitive_rmetas if use_rmeta else dep[RustCrateInfo].transitive_rlibs
        for dep in deps
    ])
    args.add_all(libraries, map_each = _dependency_dir, format_each = "-Ldependency=%s", uniquify = True)
    return libraries

def _dependency_dir(file):
    return file.dirname

def _env_and_arg_files(ctx):
    env_file = ctx.actions.declare_file(ctx.label.name + ".env")
    ctx.actions.write(env_file, "".join([
        "CARGO_CRATE_NAME={}\n".format(_crate_name(ctx)),
        "CARGO_PKG_NAME={}\n".format(ctx.label.name),
    ] + ["{}={}\n".format(k, v) for k, v in sorted(ctx.attr.rustc_env.items())]))
    arg_file = ctx.actions.declare_file(ctx.label.name + ".args")
    ctx.actions.write(arg_file, "".join(["{}\n".format(flag) for flag in ctx.attr.rustc_flags]))
    return env_file, arg_file

_ENV = {"PATH": "/usr/bin:/bin"}  # rustc links with the host's cc

# With --//settings:persistent_worker=true the wrapper's actions may run in
# Bazel's JSON persistent workers (Bazel 4 also needs
# --experimental_worker_allow_json_protocol, and picks a worker by default for
# actions that support one).
_WORKER = {
    "requires-worker-protocol": "json",
    "supports-multiplex-workers": "1",
    "supports-workers": "1",
}

def _worker_requirements(ctx):
    return dict(_WORKER) if ctx.attr._persistent_worker[SettingInfo].value else {}

def _compile(ctx, crate_type, output, emit, deps, env_file, arg_file, incremental):
    """The Rustc action, with the seed action in front of it when incremental."""
    diagnostics = ctx.actions.declare_file(ctx.label.name + ".rustc_output")
    inputs = _wrapper_inputs(ctx, env_file, arg_file)
    outputs = [output, diagnostics]
    pre_flags = []
    worker = _worker_requirements(ctx)
    execution_requirements = dict(worker)
    unused_inputs = None
    incremental_dir = ctx.actions.declare_directory(ctx.label.name + ".incr") if incremental else None
    if incremental:
        threshold = str(ctx.attr._seed_threshold_mb[SettingInfo].value)
        seed = ctx.actions.declare_directory(ctx.label.name + ".incr_seed")
        unused_inputs = ctx.actions.declare_file(ctx.label.name + ".unused_inputs")
        pre_flags = ["--copy-seed", seed.path, incremental_dir.path, "--seed-min-mb", threshold, "--write-unused-inputs", unused_inputs.path, seed.path]
        outputs = outputs + [incremental_dir, unused_inputs]
        if ctx.attr._sandboxed[SettingInfo].value:
            execution_requirements = {}
        else:
            execution_requirements["no-sandbox"] = "1"
    args = _wrapper_args(ctx, pre_flags, env_file, arg_file, diagnostics)
    libraries = _add_rustc_flags(ctx, args, crate_type, emit, incremental_dir, deps, use_rmeta = False)
    if incremental:
        seed_args = _flagfile_args(ctx)

        # The previous build's tree, read from bazel-out outside any sandbox.
        seed_args.add_all(["--seed-prev-dir", incremental_dir.path, seed.path, "--seed-min-mb", threshold, "--exit-early", "true"])
        ctx.actions.run(
            executable = ctx.executable._process_wrapper,
            arguments = [seed_args],
            # The compile's own inputs: the seed is redone exactly when the compile is.
            inputs = depset(inputs, transitive = [libraries]),
            tools = [ctx.executable._rustc],
            outputs = [seed],
            mnemonic = "RustcIncrSeed",
            progress_message = "Seeding incremental state of " + str(ctx.label),
            execution_requirements = dict(worker, **{"no-sandbox": "1", "no-cache": "1", "no-remote": "1"}),
        )
        inputs = inputs + [seed]
    ctx.actions.run(
        executable = ctx.executable._process_wrapper,
        tools = [ctx.executable._rustc],
        arguments = [args],
        inputs = depset(inputs, transitive = [libraries]),
        outputs = outputs,
        env = _ENV,
        mnemonic = "Rustc",
        progress_message = "Compiling Rust {} {}".format(crate_type, ctx.label),
        execution_requirements = execution_requirements,
        unused_inputs_list = unused_inputs,
    )
    return [diagnostics] + ([incremental_dir] if incremental_dir else [])

def _metadata(ctx, rmeta, deps, env_file, arg_file, incremental):
    """The RustcMetadata action: rustc is stopped once the .rmeta is written."""
    diagnostics = ctx.actions.declare_file(ctx.label.name + ".rmeta_output")
    incremental_dir = ctx.actions.declare_directory(ctx.label.name + ".meta_incr") if incremental else None
    args = _wrapper_args(ctx, ["--rustc-quit-on-rmeta", "true"], env_file, arg_file, diagnostics)
    libraries = _add_rustc_flags(ctx, args, "rlib", "--emit=metadata=" + rmeta.path, incremental_dir, deps, use_rmeta = True)
    inputs = _wrapper_inputs(ctx, env_file, arg_file)
    ctx.actions.run(
        executable = ctx.executable._process_wrapper,
        tools = [ctx.executable._rustc],
        arguments = [args],
        inputs = depset(inputs, transitive = [libraries]),
        outputs = [rmeta, diagnostics] + ([incremental_dir] if incremental_dir else []),
        env = _ENV,
        mnemonic = "RustcMetadata",
        progress_message = "Compiling Rust metadata " + str(ctx.label),
        execution_requirements = _worker_requirements(ctx),
    )
    return [diagnostics] + ([incremental_dir] if incremental_dir else [])

def _rust_library_impl(ctx):
    name = _crate_name(ctx)
    incremental = _is_incremental(ctx)
    env_file, arg_file = _env_and_arg_files(ctx)
    rlib = ctx.actions.declare_file("lib{}.rlib".format(name))
    rmeta = ctx.actions.declare_file("lib{}.rmeta".format(name))
    side_outputs = _compile(ctx, "rlib", rlib, "--emit=link=" + rlib.path, ctx.attr.deps, env_file, arg_file, incremental)
    side_outputs += _metadata(ctx, rmeta, ctx.attr.deps, env_file, arg_file, incremental)
    return [
        DefaultInfo(files = depset([rlib, rmeta])),
        OutputGroupInfo(rustc_side_outputs = depset(side_outputs)),
        RustCrateInfo(
            crate_name = name,
            rlib = rlib,
            rmeta = rmeta,
            transitive_rlibs = depset([rlib], transitive = [d[RustCrateInfo].transitive_rlibs for d in ctx.attr.deps]),
            transitive_rmetas = depset([rmeta], transitive = [d[RustCrateInfo].transitive_rmetas for d in ctx.attr.deps]),
        ),
    ]

def _rust_binary_impl(ctx):
    binary = ctx.actions.declare_file(ctx.label.name)
    env_file, arg_file = _env_and_arg_files(ctx)
    side_outputs = _compile(ctx, "bin", binary, "--emit=link=" + binary.path, ctx.attr.deps, env_file, arg_file, _is_incremental(ctx))
    return [
        DefaultInfo(executable = binary, files = depset([binary])),
        OutputGroupInfo(rustc_side_outputs = depset(side_outputs)),
    ]

_COMMON_ATTRS = {
    "crate_name": attr.string(doc = "Default: the target name with - as _."),
    "crate_root": attr.label(allow_single_file = [".rs"], mandatory = True),
    "deps": attr.label_list(providers = [RustCrateInfo]),
    "edition": attr.string(default = "2021"),
    "rustc_env": attr.string_dict(doc = "Written to the --env-file; {STATUS_KEY}s are stamped."),
    "rustc_flags": attr.string_list(doc = "Written to the --arg-file."),
    "srcs": attr.label_list(allow_files = [".rs"], mandatory = True),
    "stamp": attr.bool(doc = "Pass Bazel's status files (--stamp) to the wrapper."),
    "_incremental": attr.label(default = "@//settings:incremental"),
    "_persistent_worker": attr.label(default = "@//settings:persistent_worker"),
    "_process_wrapper": attr.label(
        default = "@deno_process_wrapper//:process_wrapper",
        executable = True,
        cfg = "exec",
    ),
    "_rustc": attr.label(default = "@rust_host//:rustc", executable = True, allow_single_file = True, cfg = "exec"),
    "_sandboxed": attr.label(default = "@//settings:incremental_sandboxed"),
    "_seed_threshold_mb": attr.label(default = "@//settings:incremental_seed_threshold_mb"),
}

rust_library = rule(
    implementation = _rust_library_impl,
    attrs = _COMMON_ATTRS,
    doc = "A Rust library (rlib and rmeta), incremental when the settings say so.",
)

rust_binary = rule(
    implementation = _rust_binary_impl,
    attrs = _COMMON_ATTRS,
    executable = True,
    doc = "A Rust binary, incremental when the settings say so.",
)
