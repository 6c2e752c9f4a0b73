"""Build settings of the integration.

Declare them in the main workspace's `settings/BUILD.bazel` with
`incremental_settings(name = "settings")`, then build with `--//settings:incremental=true`
(and, for persistent workers, `--//settings:persistent_worker=true
--experimental_worker_allow_json_protocol`).
"""

SettingInfo = provider(doc = "A build setting's value.", fields = ["value"])

INCREMENTAL_MODES = ["store", "tree"]

def _setting_impl(ctx):
    return [SettingInfo(value = ctx.build_setting_value)]

def _mode_setting_impl(ctx):
    if ctx.build_setting_value not in INCREMENTAL_MODES:
        fail("{}: {} is not one of {}".format(
            ctx.label,
            ctx.build_setting_value,
            ", ".join(INCREMENTAL_MODES),
        ))
    return [SettingInfo(value = ctx.build_setting_value)]

bool_setting = rule(implementation = _setting_impl, build_setting = config.bool(flag = True))
int_setting = rule(implementation = _setting_impl, build_setting = config.int(flag = True))
mode_setting = rule(
    implementation = _mode_setting_impl,
    build_setting = config.string(flag = True),
)

def incremental_settings(name):
    """Declares the integration's settings in the calling package.

    incremental, incremental_mode, incremental_seed_threshold_mb,
    incremental_sandboxed and persistent_worker: fixed names, which the
    rules refer to.

    Args:
        name: Unused (by convention, every macro takes one).
    """
    if not name:
        fail("incremental_settings: name is required")
    bool_setting(
        name = "incremental",
        build_setting_default = False,
        visibility = ["//visibility:public"],
    )

    # store: each crate's state stays in the wrapper's store under the output
    # base (no seed action, no tree artifact, nothing cached). tree: rules_rust
    # PR 3925, the state is a tree artifact seeded by a RustcIncrSeed action.
    mode_setting(
        name = "incremental_mode",
        build_setting_default = "store",
        visibility = ["//visibility:public"],
    )

    # Tree mode only. Linking a seed costs a few milliseconds whatever its
    # size, while an unseeded crate compiles cold with -Cincremental, slower
    # than without: seed every crate.
    int_setting(
        name = "incremental_seed_threshold_mb",
        build_setting_default = 0,
        visibility = ["//visibility:public"],
    )

    # rustc discards its cache when its working directory changes, and every
    # sandboxed action runs in a directory of its own: sandboxed, no reuse.
    bool_setting(
        name = "incremental_sandboxed",
        build_setting_default = False,
        visibility = ["//visibility:public"],
    )

    # The wrapper's actions may run in JSON persistent workers.
    bool_setting(
        name = "persistent_worker",
        build_setting_default = False,
        visibility = ["//visibility:public"],
    )
