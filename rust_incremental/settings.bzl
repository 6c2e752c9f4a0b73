"""Build settings of the integration. Declare them in the main workspace's
`settings/BUILD.bazel` with `incremental_settings()`, then build with
`--//settings:incremental=true` (and, for persistent workers,
`--//settings:persistent_worker=true --experimental_worker_allow_json_protocol`)."""

SettingInfo = provider(doc = "A build setting's value.", fields = ["value"])

def _setting_impl(ctx):
    return [SettingInfo(value = ctx.build_setting_value)]

bool_setting = rule(implementation = _setting_impl, build_setting = config.bool(flag = True))
int_setting = rule(implementation = _setting_impl, build_setting = config.int(flag = True))

def incremental_settings():
    """Declares incremental, incremental_seed_threshold_mb, incremental_sandboxed, persistent_worker."""
    bool_setting(
        name = "incremental",
        build_setting_default = False,
        visibility = ["//visibility:public"],
    )
    int_setting(
        name = "incremental_seed_threshold_mb",
        build_setting_default = 20,
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
