"""KubeSpawner that offers each user only their profiles and enforces the choice at spawn time."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator
from typing import Any

from jupyterhub.utils import maybe_future
from kubespawner import KubeSpawner
from traitlets import Bool, Float, Instance, Integer, Unicode, default

from hubconfig import auth_state, lab_names, server_listen, spawn_request, user_options
from hubconfig.gpu_availability import GpuAvailability, form_note
from hubconfig.gpu_quota import GpuQuota, held_count, held_resource, holdings, room
from hubconfig.gpu_quota import check as check_gpu_quota
from hubconfig.profiles import Offer, ProfileCatalogue, extended, form_entries
from hubconfig.refusals import forbidden
from hubconfig.start_queue import StartQueue, position_updates
from hubconfig.storage import MULTI_ATTACH, MULTI_ATTACH_HINT, CourseFolders
from hubconfig.unschedulable import ClusterFull, UnschedulableWatch

# How often a start looks at its pod's scheduling; the pod reflector has it in memory.
UNSCHEDULABLE_POLL_S = 1.0


class ProfileSpawner(KubeSpawner):
    """KubeSpawner driven by the chart's `singleuser` values.

    The profile form lists only the profiles the user's groups allow; `apply_user_options`, which
    JupyterHub runs before every start from the form or the REST API, checks the request (profile,
    GPU count, unknown options, GPU quota) and applies the profile. KubeSpawner's own loading of
    `user_options` is replaced, so nothing unchecked reaches the pod.
    """

    profile_catalogue = Instance(
        ProfileCatalogue,
        config=True,
        help="The lab profiles; hubconfig.configure builds them from `singleuser` once, at start.",
    )
    gpu_quota = Instance(
        GpuQuota,
        config=True,
        help="GPUs a user, and the members of a group together, may hold at once.",
    )
    skip_form_for_courses = Bool(
        True,
        config=True,
        help="Start the course's profile at once after an LTI launch from a mapped course.",
    )
    slow_spawn_message = Unicode(
        "",
        config=True,
        help="First message of the spawn progress page; fills in {profile} and {start_timeout}.",
    )
    course_folders = Instance(
        CourseFolders,
        allow_none=True,
        config=True,
        help="Course folders of the shared volume; each lab mounts those its user's groups allow.",
    )
    gpu_availability = Instance(
        GpuAvailability,
        allow_none=True,
        config=True,
        help="Reads free GPUs from the cluster for the form; None: the form says unknown.",
    )
    unschedulable_timeout = Integer(
        15,
        config=True,
        help="""Seconds a lab's pod may stay unschedulable (no node has room) before the start
        gives up with a message saying the cluster is full; 0 waits until start_timeout.

        With a cluster autoscaler, make it longer than the time a new node takes to join.
        """,
    )
    listen_poll_interval = Float(
        0.1,
        config=True,
        help="""Seconds between the start's attempts to connect to the lab server once its pod
        runs; the start returns when the server listens, so that the hub's own check (whose
        sleeps grow to 5 s) answers at its first try. 0: return once the pod runs.

        Gives up after http_timeout, as the hub's check would, with the hub's message.
        """,
    )
    start_queue = Instance(
        StartQueue,
        allow_none=True,
        config=True,
        help="""The hub's one line of lab starts (`hub.concurrentStarts`): a start beyond its
        slots waits in the pre-spawn hook, before JupyterHub's start_timeout runs, and the spawn
        page says its place. None: every start goes at once.""",
    )
    gpus_held = Integer(0, help="GPUs this server was granted; kept in the spawner's state.")
    gpu_resource_held = Unicode(
        "", help="The resource this server's GPUs are counted in; kept in the spawner's state."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # JupyterHub reuses one spawner object for every start of the same server, so each start
        # begins again from the configured values of every trait a profile may set.
        # The volumes too: each start adds the course folders of the user's groups at that time.
        self._configured = {
            name: copy.deepcopy(getattr(self, name))
            for name in self.profile_catalogue.overridden_traits | {"volumes", "volume_mounts"}
        }
        self._checked_selection: user_options.Selection | None = None
        # The task running this spawner's start (KubeSpawner runs `_start` in a task of its own).
        self._start_task: asyncio.Task | None = None
        self._profile_name = "your lab"

    async def offer(self) -> Offer:
        """The profiles this user may start now: read their groups and course once per request."""
        groups = {group.name for group in self.user.groups}
        return self.profile_catalogue.offer(groups, await self.course_key())

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

    @default("handle_legacy_names")
    def _handle_legacy_names_default(self) -> bool:
        return False

    @default("options_form")
    def _profile_form_default(self) -> Any:
        return ProfileSpawner.profile_form

    @default("apply_user_options")
    def _apply_user_options_default(self) -> Any:
        return ProfileSpawner.check_and_apply

    async def profile_form(self) -> str:
        """The spawn form with the user's profiles; empty (spawn now) for a mapped LTI course."""
        offer = await self.offer()
        if not offer.allowed:
            raise forbidden(user_options.no_profile_message(offer.groups))
        if self.skip_form_for_courses and offer.course_profile:
            return ""
        return self._render_options_form(form_entries(offer, await self.gpu_notes(offer)))

    async def gpu_notes(self, offer: Offer) -> dict[str, str]:
        """For each GPU kind offered: how many are free now and how many more this user may
        take, so that nobody picks what cannot start."""
        cluster = await self.gpu_availability.current() if self.gpu_availability else None
        gpu = self.profile_catalogue.gpu
        notes = {}
        for kind in {k.name: k for p in offer.allowed for k in p.gpu_types}.values():
            held = holdings(self.user, self, self.gpu_quota, kind.resource_name)
            left = room(self.gpu_quota, kind.resource_name, offer.groups, held)
            count = (
                cluster.count(kind.resource_name, gpu.node_selector_of(kind)) if cluster else None
            )
            notes[kind.name] = form_note(
                kind.display_name, kind.description, count, left, kind.max_per_lab
            )
        return notes

    async def check_and_apply(self, options: Any) -> None:
        """JupyterHub's apply_user_options hook: refuse what is not allowed, else apply it."""
        try:
            lab_names.check_username(self.user.name)
            offer = await self.offer()
            if offer.course_profile and not spawn_request.gives_options(self.handler):
                # A course launch opens the course's lab, not whatever an earlier spawn asked for.
                options = {}
            selection = user_options.select(options, offer)
            # No await between the check and recording the grant, so concurrent spawns see it.
            resource = selection.gpu_resource or ""
            held = holdings(self.user, self, self.gpu_quota, resource)
            check_gpu_quota(self.gpu_quota, selection.gpus, resource, offer.groups, held)
            self.gpus_held = selection.gpus
            self.gpu_resource_held = resource
            self.apply_selection(selection)
            self.mount_course_folders(offer.groups)
        except Exception:
            # JupyterHub stored these options before the check; a later spawn must not reuse
            # them, whether they were refused or made a check fail unexpectedly.
            self.user_options = self.orm_spawner.user_options = {}
            raise

    def apply_selection(self, selection: user_options.Selection) -> None:
        """Set the pod's traits from a checked selection: the configured values, then its override.

        As in KubeSpawner's overrides, a map is merged into the configured one; unlike there, a
        list extends the configured one, so GPUs add a volume and a toleration to those
        configured for every lab.
        """
        for name, value in self._configured.items():
            setattr(self, name, copy.deepcopy(value))
        for name, value in selection.kubespawner_override.items():
            setattr(self, name, copy.deepcopy(extended(getattr(self, name), value)))
        self._checked_selection = selection
        self._profile_name = selection.profile.display_name

    def mount_course_folders(self, groups: frozenset[str]) -> None:
        """Add the course folders `groups` may see to this start's volumes (after the profile)."""
        if self.course_folders is None:
            return
        volumes, mounts = self.course_folders.for_groups(groups)
        self.volumes = [*self.volumes, *volumes]
        self.volume_mounts = [*self.volume_mounts, *mounts]

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

    async def run_pre_spawn_hook(self) -> Any:
        # JupyterHub runs this hook after the options are checked and before it calls start
        # with start_timeout, so a wait for a turn here is not counted as a slow start.
        if self.start_queue is not None:
            await self.start_queue.wait_turn(self)
        return await maybe_future(super().run_pre_spawn_hook())

    async def _start(self) -> Any:
        self._start_task = asyncio.current_task()
        try:
            started = await self._start_pod()
            if self.listen_poll_interval and not await server_listen.wait_until_listening(
                started, self.listen_poll_interval, self.http_timeout
            ):
                # JupyterHub's words for a server that never answered; User.spawn stops the pod.
                raise TimeoutError(
                    f"Server at {started} didn't respond in {self.http_timeout} seconds"
                )
            return started
        finally:
            self._start_task = None
            self._leave_start_queue()

    async def stop(self, now: bool = False) -> Any:
        # A start stopped while it waits for its turn (or holds one) gives it up; KubeSpawner's
        # own stop of a stale pod of the lab's name, inside the start, is part of the start.
        if asyncio.current_task() is not self._start_task:
            self._leave_start_queue()
        return await super().stop(now=now)

    def _starting(self) -> bool:
        return self.pending == "spawn"

    def _leave_start_queue(self) -> None:
        if self.start_queue is not None:
            self.start_queue.leave(self)

    async def _start_pod(self) -> Any:
        # KubeSpawner's start waits for the pod until start_timeout, even when the scheduler
        # has said that no node can take it; this gives up after unschedulable_timeout.
        # KubeSpawner has no hook for it: https://github.com/jupyterhub/kubespawner/issues/795
        if not self.unschedulable_timeout:
            return await super()._start()
        start = asyncio.ensure_future(super()._start())
        watch = asyncio.ensure_future(self._await_unschedulable())
        try:
            await asyncio.wait({start, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            unfinished = [task for task in (start, watch) if not task.done()]
            for task in unfinished:
                task.cancel()
            # KubeSpawner's start ends before User.spawn stops the server and deletes the pod.
            await asyncio.gather(*unfinished, return_exceptions=True)
        if start.done() and not start.cancelled():
            return start.result()
        # User.spawn stops the server after this failure, and KubeSpawner's stop deletes the pod.
        raise ClusterFull(watch.result())

    async def _await_unschedulable(self) -> str:
        """The scheduler's reason, once this start's pod has stayed unschedulable too long."""
        watch = UnschedulableWatch(self.unschedulable_timeout)
        while True:
            # KubeSpawner's start creates the reflector after loading the user's options.
            reflector = self.pod_reflector
            pod = reflector.pods.get(f"{self.namespace}/{self.pod_name}") if reflector else None
            reason = watch.give_up_reason(pod, time.monotonic())
            if reason is not None:
                return reason
            await asyncio.sleep(UNSCHEDULABLE_POLL_S)

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        if self.slow_spawn_message:
            yield {"progress": 1, "message": self._spawn_message()}
        if self.start_queue is not None:
            async for event in position_updates(self.start_queue, self, self._starting):
                yield event
        explained = False
        async for event in super().progress():
            yield event
            if not explained and MULTI_ATTACH in event.get("message", ""):
                explained = True
                yield {"progress": event.get("progress"), "message": MULTI_ATTACH_HINT}

    def _spawn_message(self) -> str:
        return self.slow_spawn_message.format(
            profile=self._profile_name, start_timeout=self.start_timeout
        )

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self.gpus_held:
            state["gpus"] = self.gpus_held
            state["gpu_resource"] = self.gpu_resource_held
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.gpus_held = held_count(state.get("gpus"))
        self.gpu_resource_held = held_resource(state.get("gpu_resource")) if self.gpus_held else ""

    def clear_state(self) -> None:
        super().clear_state()
        self.gpus_held = 0
        self.gpu_resource_held = ""
