"""KubeSpawner that offers each user only their profiles and enforces the choice at spawn time."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

from kubespawner import KubeSpawner
from traitlets import Dict, Integer, Unicode, default

from hubconfig import auth_state, gpu_quota, lab_names, spawn_request, user_options
from hubconfig.profiles import ProfileCatalogue, form_entries
from hubconfig.refusals import forbidden

# Memory-backed shared memory for GPU frameworks (PyTorch data loaders), not a temporary file.
SHM_PATH = "/dev/shm"  # noqa: S108

# Traits a profile sets. They are reset to their configured values before each spawn, because
# JupyterHub reuses one spawner object for every start of the same server.
PROFILE_TRAITS = (
    "image",
    "image_pull_policy",
    "cpu_guarantee",
    "cpu_limit",
    "mem_guarantee",
    "mem_limit",
    "extra_resource_limits",
    "node_selector",
    "tolerations",
    "volumes",
    "volume_mounts",
    "start_timeout",
    "http_timeout",
)


class ProfileSpawner(KubeSpawner):
    """KubeSpawner driven by the chart's `singleuser` values.

    The profile form lists only the profiles the user's groups allow; `apply_user_options`, which
    JupyterHub runs before every start from the form or the REST API, checks the request (profile,
    GPU count, unknown options, GPU quota) and applies the profile. KubeSpawner's own loading of
    `user_options` is replaced, so nothing unchecked reaches the pod.
    """

    singleuser_values = Dict(
        config=True,
        help="The chart's validated `singleuser` values: profileList, courseProfiles, "
        "skipFormForCourses, gpu and gpuQuota are read from it.",
    )
    slow_spawn_message = Unicode(
        "",
        config=True,
        help="First message of the spawn progress page; fills in {profile} and {start_timeout}.",
    )
    gpus_held = Integer(0, help="GPUs this server was granted; kept in the spawner's state.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._configured = {name: copy.deepcopy(getattr(self, name)) for name in PROFILE_TRAITS}
        self._checked_selection: user_options.Selection | None = None
        self._profile_name = "your lab"

    @property
    def catalogue(self) -> ProfileCatalogue:
        return ProfileCatalogue.from_values(self.singleuser_values)

    @property
    def quota(self) -> gpu_quota.GpuQuota:
        return gpu_quota.GpuQuota.from_values(self.singleuser_values["gpuQuota"])

    def group_names(self) -> set[str]:
        return {group.name for group in self.user.groups}

    async def course_key(self) -> str | None:
        """The course key (`<platform>/<context_id>`) of the user's latest LTI launch, if any.

        The authenticator records it in auth_state (see hubconfig.auth_state); the platform name
        keeps course 202 of one Moodle apart from course 202 of another.
        """
        return auth_state.course_key(await self.user.get_auth_state())

    # Pod and home claim names from the username unchanged (see hubconfig.lab_names): KubeSpawner's
    # defaults hash some names into collidable slugs. Without legacy names, a first start never
    # looks for a claim named by KubeSpawner 6's escaping either, which another user's name can
    # equal ("a-b" escaped is "a-2db"); this chart never ran KubeSpawner 6.
    @default("slug_scheme")
    def _slug_scheme_default(self) -> str:
        return "safe"

    @default("pod_name_template")
    def _pod_name_template_default(self) -> str:
        return lab_names.POD_NAME_TEMPLATE

    @default("pvc_name_template")
    def _pvc_name_template_default(self) -> str:
        return lab_names.PVC_NAME_TEMPLATE

    @default("handle_legacy_names")
    def _handle_legacy_names_default(self) -> bool:
        return False

    @default("profile_list")
    def _profile_list_default(self) -> Any:
        return ProfileSpawner.user_profile_list

    @default("options_form")
    def _profile_form_default(self) -> Any:
        return ProfileSpawner.profile_form

    @default("apply_user_options")
    def _apply_user_options_default(self) -> Any:
        return ProfileSpawner.check_and_apply

    async def user_profile_list(self) -> list[dict[str, Any]]:
        """KubeSpawner's profile_list for this user: the allowed profiles, preselection marked."""
        catalogue = self.catalogue
        allowed = catalogue.allowed(self.group_names())
        return form_entries(allowed, catalogue.preselected(allowed, await self.course_key()))

    async def profile_form(self) -> str:
        """The spawn form with the user's profiles; empty (spawn now) for a mapped LTI course."""
        groups = self.group_names()
        catalogue = self.catalogue
        allowed = catalogue.allowed(groups)
        if not allowed:
            raise forbidden(user_options.no_profile_message(groups))
        course_key = await self.course_key()
        if self.singleuser_values["skipFormForCourses"] and catalogue.course_profile(
            course_key, allowed
        ):
            return ""
        return self._render_options_form(await self.user_profile_list())

    async def check_and_apply(self, options: Any) -> None:
        """JupyterHub's apply_user_options hook: refuse what is not allowed, else apply it."""
        try:
            lab_names.check_username(self.user.name)
            groups = self.group_names()
            catalogue = self.catalogue
            course_key = await self.course_key()
            if not spawn_request.gives_options(self.handler) and catalogue.course_profile(
                course_key, catalogue.allowed(groups)
            ):
                # A course launch opens the course's lab, not whatever an earlier spawn asked for.
                options = {}
            selection = user_options.select(options, catalogue, groups, course_key)
            quota = self.quota
            # No await between the check and recording the grant, so concurrent spawns see it.
            held = gpu_quota.holdings(self.user, self, quota)
            gpu_quota.check(quota, selection.gpus, groups, held)
            self.gpus_held = selection.gpus
            self.apply_selection(selection)
        except Exception:
            # JupyterHub stored these options before the check; a later spawn must not reuse
            # them, whether they were refused or made a check fail unexpectedly.
            self.user_options = self.orm_spawner.user_options = {}
            raise

    def apply_selection(self, selection: user_options.Selection) -> None:
        """Set the pod's image, resources, scheduling and volumes from a checked selection."""
        for name, value in self._configured.items():
            setattr(self, name, copy.deepcopy(value))
        profile = selection.profile
        self.image = profile.image
        self.image_pull_policy = profile.image_pull_policy
        self.cpu_guarantee = profile.cpu_guarantee
        self.cpu_limit = profile.cpu_limit
        self.mem_guarantee = profile.mem_guarantee
        self.mem_limit = profile.mem_limit
        self.start_timeout = profile.start_timeout
        self.http_timeout = profile.http_timeout
        if selection.gpus:
            gpu = self.singleuser_values["gpu"]
            self.extra_resource_limits = {
                **self.extra_resource_limits,
                gpu["resourceName"]: str(selection.gpus),
            }
            self.node_selector = {**self.node_selector, **gpu["nodeSelector"]}
            self.tolerations = [*self.tolerations, *gpu["tolerations"]]
            shm = {"medium": "Memory", "sizeLimit": str(gpu["shmSizeLimit"])}
            self.volumes = [*self.volumes, {"name": "dshm", "emptyDir": shm}]
            self.volume_mounts = [*self.volume_mounts, {"name": "dshm", "mountPath": SHM_PATH}]
        self._checked_selection = selection
        self._profile_name = profile.display_name

    async def load_user_options(self) -> None:
        """Replaces KubeSpawner's loader: `check_and_apply` has already applied the profile.

        Refuses to start when it has not run (e.g. `apply_user_options` was overridden in
        `hub.config`), rather than start a pod whose options nobody checked.
        """
        if self._checked_selection is None:
            raise forbidden(
                "This server's options were not checked, so it is not started. "
                "The hub's configuration overrides apply_user_options; remove that override."
            )
        self._checked_selection = None

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        if self.slow_spawn_message:
            yield {"progress": 1, "message": self._spawn_message()}
        async for event in super().progress():
            yield event

    def _spawn_message(self) -> str:
        return self.slow_spawn_message.format(
            profile=self._profile_name, start_timeout=self.start_timeout
        )

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self.gpus_held:
            state["gpus"] = self.gpus_held
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.gpus_held = gpu_quota.held_count(state.get("gpus"))

    def clear_state(self) -> None:
        super().clear_state()
        self.gpus_held = 0
