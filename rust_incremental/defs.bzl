"""rust_library and rust_binary, built the way rules_rust drives its process wrapper.

Not incremental (the default, `opt`, the exec configuration, other
workspaces): rules_rust's pipelining. `RustcMetadata` stops rustc once the
`.rmeta` is written (`--rustc-quit-on-rmeta true`) and dependent libraries
compile against it while `Rustc` finishes the `.rlib`. Both actions pass
rustc the same `--emit` kinds: rustc gives the two files the same crate hash
only then.

Incremental (`--//settings:incremental=true`): one `Rustc` action with
`-Cincremental` writes both the `.rlib` and the `.rmeta`. There is no metadata
action: an `.rmeta` from a rustc without `-Cincremental` has another crate hash
than the incremental `.rlib`, a rustc killed on the metadata notification never
finalizes its incremental session, and one started from a copy of the
compile's state reuses nothing unless its `--emit` paths are the compile's too
(all measured with rustc 1.95). Where the state lives is
`--//settings:incremental_mode`:

- `store` (default): in the wrapper's store under the output base
  (`--incremental-store`), one per label and configuration, locked and keyed
  by the command line. No seed action, no tree artifact, nothing for a disk
  or remote cache to store.
- `tree` (rules_rust PR 3925): a tree artifact. `RustcIncrSeed` (no-sandbox,
  no-cache, no-remote) copies the previous build's tree into a seed tree
  (`--seed-prev-dir`); `Rustc` seeds its tree from it (`--copy-seed`) and
  names the seed in its `unused_inputs_list`.

rustc reuses its state only from the same working directory, and every
sandboxed action runs in a directory of its own, so incremental actions run
unsandboxed (or in a persistent worker, in the execroot too) unless
`--//settings:incremental_sandboxed=true`.
"""

load(":settings.bzl", "SettingInfo")

RustCrateInfo = provider(
    doc = "A compiled library crate.",
    fields = {
        "crate_name": "The name other crates `--extern` it by.",
        "rlib": "The full library.",
        "rmeta": "Its metadata: what dependent libraries compile against.",
        "transitive_rlibs": "depset of the rlibs of it and everything it depends on.",
        "transitive_rmetas": "depset of the rmetas of it and everything it depends on.",
    },
)

# rustc links with the host's cc.
_ENV = {"PATH": "/usr/bin:/bin"}

# With --//settings:persistent_worker=true the wrapper's actions may run in
# Bazel's JSON persistent workers (Bazel 4 also needs
# --experimental_worker_allow_json_protocol, and picks a worker by default for
# actions that support one).
_WORKER = {
    "requires-worker-protocol": "json",
    "supports-multiplex-workers": "1",
    "supports-workers": "1",
}

# Under the output base (two levels above the execroot, where unsandboxed
# actions and workers run): one directory per configuration, package and
# target.
_STORE_ROOT = "${pwd}/../../deno_process_wrapper/incremental"

def _is_exec_configuration(ctx):
    """Whether the target is built for the exec (host) configuration.

    Args:
        ctx: The rule context.

    Returns:
        True for tools built to run during the build.
    """
    return "-exec-" in ctx.bin_dir.path

def _incremental_mode(ctx):
    """How this crate keeps incremental state, if at all.

    Args:
        ctx: The rule context.

    Returns:
        "store", "tree", or None for a non-incremental build.
    """
    if not ctx.attr._incremental[SettingInfo].value:
        return None
    if ctx.var["COMPILATION_MODE"] == "opt" or _is_exec_configuration(ctx):
        return None
    if ctx.label.workspace_name != "":
        return None
    return ctx.attr._incremental_mode[SettingInfo].value

def _crate_name(ctx):
    return ctx.attr.crate_name or ctx.label.name.replace("-", "_")

def _execution_requirements(ctx, mode):
    """Where a wrapper action may run.

    Args:
        ctx: The rule context.
        mode: "store", "tree" or None (see _incremental_mode).

    Returns:
        The worker keys when workers are on, and no-sandbox for incremental
        actions: rustc reuses its state only from the same working directory.
    """
    requirements = dict(_WORKER) if ctx.attr._persistent_worker[SettingInfo].value else {}
    if mode and not ctx.attr._sandboxed[SettingInfo].value:
        requirements["no-sandbox"] = "1"
    return requirements

def _flagfile_args(ctx):
    """Args for a whole wrapper command line, in a flagfile.

    A persistent worker gets it as a request, a one-shot run as a leading
    `@flagfile`.

    Args:
        ctx: The rule context.

    Returns:
        An empty Args that is written to a multiline flagfile.
    """
    args = ctx.actions.args()
    args.use_param_file("@%s", use_always = True)
    args.set_param_file_format("multiline")
    return args

def _env_and_arg_files(ctx):
    """Writes the crate's --env-file and --arg-file.

    Args:
        ctx: The rule context.

    Returns:
        A tuple of the env file and the arg file.
    """
    env_file = ctx.actions.declare_file(ctx.label.name + ".env")
    ctx.actions.write(env_file, "".join([
        "CARGO_CRATE_NAME={}\n".format(_crate_name(ctx)),
        "CARGO_PKG_NAME={}\n".format(ctx.label.name),
    ] + ["{}={}\n".format(k, v) for k, v in sorted(ctx.attr.rustc_env.items())]))
    arg_file = ctx.actions.declare_file(ctx.label.name + ".args")
    ctx.actions.write(arg_file, "".join(["{}\n".format(flag) for flag in ctx.attr.rustc_flags]))
    return env_file, arg_file

def _wrapper_inputs(ctx, env_file, arg_file):
    """The sources and the files the wrapper flags name."""
    inputs = ctx.files.srcs + [env_file, arg_file]
    if ctx.attr.stamp:
        inputs += [ctx.info_file, ctx.version_file]
    return inputs

def _wrapper_args(ctx, *, pre_flags, env_file, arg_file, output_file):
    """The flags rules_rust gives the process wrapper in front of every rustc.

    Args:
        ctx: The rule context.
        pre_flags: Flags of this action placed first (seeding, quit-on-rmeta).
        env_file: The --env-file.
        arg_file: The --arg-file.
        output_file: The --output-file (raw rustc stderr).

    Returns:
        Args in a flagfile.
    """
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

def _dependency_dir(file):
    return file.dirname

def _add_rustc_flags(ctx, args, *, crate_type, emit, incremental_dir, deps, use_rmeta):
    """Adds `-- rustc ...` to `args`.

    Args:
        ctx: The rule context.
        args: The wrapper's Args.
        crate_type: rustc's --crate-type.
        emit: rustc's --emit value.
        incremental_dir: The -Cincremental directory (tree mode), or None.
        deps: The crate's dependencies (RustCrateInfo).
        use_rmeta: Compile against the dependencies' rmeta instead of rlib.

    Returns:
        depset of the dependency files rustc reads.
    """
    args.add("--")
    args.add(ctx.executable._rustc)
    args.add(ctx.file.crate_root)
    args.add("--crate-name", _crate_name(ctx))
    args.add("--crate-type", crate_type)
    args.add("--edition", ctx.attr.edition)
    args.add("--emit=" + emit)
    args.add("--error-format=json")
    args.add("--json=artifacts,diagnostic-rendered-ansi")
    args.add("--remap-path-prefix=${pwd}=.")
    args.add("-Cdebuginfo=0")
    if incremental_dir:
        args.add("-Cincremental=" + incremental_dir.path)
    for dep in deps:
        info = dep[RustCrateInfo]
        library = info.rmeta if use_rmeta else info.rlib
        args.add("--extern", "{}={}".format(info.crate_name, library.path))
    libraries = depset(transitive = [
        dep[RustCrateInfo].transitive_rmetas if use_rmeta else dep[RustCrateInfo].transitive_rlibs
        for dep in deps
    ])
    args.add_all(
        libraries,
        map_each = _dependency_dir,
        format_each = "-Ldependency=%s",
        uniquify = True,
    )
    return libraries

def _store_path(ctx):
    return "{}/{}/{}/{}".format(_STORE_ROOT, ctx.bin_dir.path, ctx.label.package, ctx.label.name)

def _seed_action(ctx, *, incremental_dir, seed, threshold, inputs):
    """The RustcIncrSeed action of tree mode.

    It copies the previous build's tree, read from bazel-out outside any
    sandbox, into `seed`. Its inputs are the compile's own, so it is redone
    exactly when the compile is.

    Args:
        ctx: The rule context.
        incremental_dir: The compile's incremental tree (read as it was left).
        seed: The seed tree to write.
        threshold: --seed-min-mb.
        inputs: depset of the compile's inputs.
    """
    args = _flagfile_args(ctx)
    args.add_all([
        "--seed-prev-dir",
        incremental_dir.path,
        seed.path,
        "--seed-min-mb",
        threshold,
        "--exit-early",
        "true",
    ])
    ctx.actions.run(
        executable = ctx.executable._process_wrapper,
        arguments = [args],
        inputs = inputs,
        tools = [ctx.executable._rustc],
        outputs = [seed],
        mnemonic = "RustcIncrSeed",
        progress_message = "Seeding incremental state of " + str(ctx.label),
        execution_requirements = dict(
            _execution_requirements(ctx, None),
            **{"no-cache": "1", "no-remote": "1", "no-sandbox": "1"}
        ),
    )

def _compile(ctx, *, crate_type, outputs, emit, deps, use_rmeta, env_file, arg_file, mode):
    """The Rustc action, with the seed action in front of it in tree mode.

    Args:
        ctx: The rule context.
        crate_type: rustc's --crate-type.
        outputs: The files rustc writes (named in `emit`).
        emit: rustc's --emit value.
        deps: The crate's dependencies.
        use_rmeta: Compile against the dependencies' rmeta.
        env_file: The --env-file.
        arg_file: The --arg-file.
        mode: "store", "tree" or None (see _incremental_mode).

    Returns:
        The side outputs: diagnostics, and the incremental tree in tree mode.
    """
    diagnostics = ctx.actions.declare_file(ctx.label.name + ".rustc_output")
    inputs = _wrapper_inputs(ctx, env_file, arg_file)
    outputs = outputs + [diagnostics]
    pre_flags = []
    unused_inputs = None
    incremental_dir = None
    seed = None
    threshold = None
    if mode == "tree":
        threshold = str(ctx.attr._seed_threshold_mb[SettingInfo].value)
        incremental_dir = ctx.actions.declare_directory(ctx.label.name + ".incr")
        seed = ctx.actions.declare_directory(ctx.label.name + ".incr_seed")
        unused_inputs = ctx.actions.declare_file(ctx.label.name + ".unused_inputs")
        pre_flags = [
            "--copy-seed",
            seed.path,
            incremental_dir.path,
            "--seed-min-mb",
            threshold,
            "--write-unused-inputs",
            unused_inputs.path,
            seed.path,
        ]
        outputs = outputs + [incremental_dir, unused_inputs]
    elif mode == "store":
        pre_flags = ["--incremental-store", _store_path(ctx)]
    args = _wrapper_args(
        ctx,
        pre_flags = pre_flags,
        env_file = env_file,
        arg_file = arg_file,
        output_file = diagnostics,
    )
    libraries = _add_rustc_flags(
        ctx,
        args,
        crate_type = crate_type,
        emit = emit,
        incremental_dir = incremental_dir,
        deps = deps,
        use_rmeta = use_rmeta,
    )
    all_inputs = depset(inputs, transitive = [libraries])
    if mode == "tree":
        _seed_action(
            ctx,
            incremental_dir = incremental_dir,
            seed = seed,
            threshold = threshold,
            inputs = all_inputs,
        )
        all_inputs = depset([seed], transitive = [all_inputs])
    ctx.actions.run(
        executable = ctx.executable._process_wrapper,
        tools = [ctx.executable._rustc],
        arguments = [args],
        inputs = all_inputs,
        outputs = outputs,
        env = _ENV,
        mnemonic = "Rustc",
        progress_message = "Compiling Rust {} {}".format(crate_type, ctx.label),
        execution_requirements = _execution_requirements(ctx, mode),
        unused_inputs_list = unused_inputs,
    )
    return [diagnostics] + ([incremental_dir] if incremental_dir else [])

def _metadata(ctx, *, rmeta, rlib, deps, env_file, arg_file):
    """The RustcMetadata action of a pipelined (non-incremental) library.

    rustc gets the same --emit kinds as the Rustc action (so both files get
    the same crate hash) and is stopped once the .rmeta is written, before
    it would write the .rlib.

    Args:
        ctx: The rule context.
        rmeta: The .rmeta to write.
        rlib: The Rustc action's .rlib (named, never written here).
        deps: The crate's dependencies.
        env_file: The --env-file.
        arg_file: The --arg-file.

    Returns:
        The side outputs: the diagnostics.
    """
    diagnostics = ctx.actions.declare_file(ctx.label.name + ".rmeta_output")
    args = _wrapper_args(
        ctx,
        pre_flags = ["--rustc-quit-on-rmeta", "true"],
        env_file = env_file,
        arg_file = arg_file,
        output_file = diagnostics,
    )
    libraries = _add_rustc_flags(
        ctx,
        args,
        crate_type = "rlib",
        emit = "metadata={},link={}".format(rmeta.path, rlib.path),
        incremental_dir = None,
        deps = deps,
        use_rmeta = True,
    )
    ctx.actions.run(
        executable = ctx.executable._process_wrapper,
        tools = [ctx.executable._rustc],
        arguments = [args],
        inputs = depset(_wrapper_inputs(ctx, env_file, arg_file), transitive = [libraries]),
        outputs = [rmeta, diagnostics],
        env = _ENV,
        mnemonic = "RustcMetadata",
        progress_message = "Compiling Rust metadata " + str(ctx.label),
        execution_requirements = _execution_requirements(ctx, None),
    )
    return [diagnostics]

def _rust_library_impl(ctx):
    name = _crate_name(ctx)
    mode = _incremental_mode(ctx)
    env_file, arg_file = _env_and_arg_files(ctx)
    rlib = ctx.actions.declare_file("lib{}.rlib".format(name))
    rmeta = ctx.actions.declare_file("lib{}.rmeta".format(name))
    if mode:
        # One incremental rustc writes both files. A metadata action reuses
        # no state: killed at the metadata, rustc never finalizes its own,
        # and from a copy of the compile's it reuses nothing unless its
        # --emit paths are the compile's too (measured), which two actions'
        # outputs cannot be.
        compile_rmeta = rmeta
        side_outputs = []
    else:
        # Pipelined: the metadata action writes the rmeta others compile
        # against; this one is rustc's by-product of the same --emit. It goes
        # in a directory of its own: rustc takes every lib<name>*.rmeta in a
        # -Ldependency directory for a candidate, and a second one there
        # (lib<name>.full.rmeta, say) makes it reject the rlib, unless a
        # sandbox happens to hide the file.
        compile_rmeta = ctx.actions.declare_file("_full/lib{}.rmeta".format(name))
        side_outputs = _metadata(
            ctx,
            rmeta = rmeta,
            rlib = rlib,
            deps = ctx.attr.deps,
            env_file = env_file,
            arg_file = arg_file,
        )
    side_outputs += _compile(
        ctx,
        crate_type = "rlib",
        outputs = [rlib, compile_rmeta],
        emit = "metadata={},link={}".format(compile_rmeta.path, rlib.path),
        deps = ctx.attr.deps,
        use_rmeta = True,
        env_file = env_file,
        arg_file = arg_file,
        mode = mode,
    )
    return [
        DefaultInfo(files = depset([rlib, rmeta])),
        OutputGroupInfo(rustc_side_outputs = depset(side_outputs)),
        RustCrateInfo(
            crate_name = name,
            rlib = rlib,
            rmeta = rmeta,
            transitive_rlibs = depset(
                [rlib],
                transitive = [d[RustCrateInfo].transitive_rlibs for d in ctx.attr.deps],
            ),
            transitive_rmetas = depset(
                [rmeta],
                transitive = [d[RustCrateInfo].transitive_rmetas for d in ctx.attr.deps],
            ),
        ),
    ]

def _rust_binary_impl(ctx):
    binary = ctx.actions.declare_file(ctx.label.name)
    env_file, arg_file = _env_and_arg_files(ctx)
    side_outputs = _compile(
        ctx,
        crate_type = "bin",
        outputs = [binary],
        emit = "link=" + binary.path,
        deps = ctx.attr.deps,
        use_rmeta = False,
        env_file = env_file,
        arg_file = arg_file,
        mode = _incremental_mode(ctx),
    )
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
    "_incremental_mode": attr.label(default = "@//settings:incremental_mode"),
    "_persistent_worker": attr.label(default = "@//settings:persistent_worker"),
    "_process_wrapper": attr.label(
        default = "@deno_process_wrapper//:process_wrapper",
        executable = True,
        cfg = "exec",
    ),
    "_rustc": attr.label(
        default = "@rust_host//:rustc",
        executable = True,
        allow_single_file = True,
        cfg = "exec",
    ),
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
