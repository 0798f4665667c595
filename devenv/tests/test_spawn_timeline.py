"""The spawn benchmark's breakdown reads the moments of one spawn from the hub's, the pod's and
the lab's timestamps, and cuts them into segments."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The benchmark is a script folder beside the e2e suite, not an installed module.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e" / "benchmarks"))
import spawn_timeline

CLICKED = spawn_timeline.log_time("2026-12-02T03:44:10.000000Z")

# kubectl logs --timestamps of the hub: an earlier spawn's lines, another user's, then this one's.
HUB_LOG = """\
2026-12-02T03:44:01.100000000Z [D 2026-12-02 03:44:01.100 JupyterHub base:1163] Initiating spawn for student
2026-12-02T03:44:01.200000000Z [I 2026-12-02 03:44:01.200 JupyterHub spawner:3001] Attempting to create pod jupyter-student, with timeout 3
2026-12-02T03:44:10.050000000Z [D 2026-12-02 03:44:10.050 JupyterHub base:1163] Initiating spawn for student-2
2026-12-02T03:44:10.120000000Z [D 2026-12-02 03:44:10.120 JupyterHub base:1163] Initiating spawn for student
2026-12-02T03:44:10.180000000Z [I 2026-12-02 03:44:10.180 JupyterHub spawner:3001] Attempting to create pod jupyter-student, with timeout 3
2026-12-02T03:44:12.400000000Z [D 2026-12-02 03:44:12.400 JupyterHub spawner:3362] pod jupyterhub/jupyter-student events before launch:
2026-12-02T03:44:14.700123456Z [D 2026-12-02 03:44:14.700 JupyterHub utils:332] Waiting 120s for server at http://10.244.1.9:8888/user/student/api
2026-12-02T03:44:14.710000000Z [D 2026-12-02 03:44:14.710 JupyterHub utils:365] Server at http://10.244.1.9:8888/user/student/api responded in 0.01s
2026-12-02T03:44:14.720000000Z [I 2026-12-02 03:44:14.720 JupyterHub proxy:335] Adding user student to proxy /user/student/ => http://10.244.1.9:8888
2026-12-02T03:44:14.730000000Z [I 2026-12-02 03:44:14.730 JupyterHub log:192] 200 GET /hub/api/users/student/server/progress?_xsrf=x (student@10.244.0.1) 4012.20ms
"""  # noqa: E501 - log lines as the hub writes them

LAB_LOG = """\
2026-12-02T03:44:13.900000000Z [I 2026-12-02 03:44:13.900 ServerApp] jupyter_lsp | extension was successfully linked.
2026-12-02T03:44:14.650000000Z [I 2026-12-02 03:44:14.650 ServerApp] Jupyter Server 2.21.1 is running at:
"""  # noqa: E501

POD = {
    "metadata": {"name": "jupyter-student", "creationTimestamp": "2026-12-02T03:44:10Z"},
    "status": {
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-02T03:44:10Z"}
        ],
        "containerStatuses": [
            {
                "name": "notebook",
                "state": {"running": {"startedAt": "2026-12-02T03:44:11Z"}},
            }
        ],
    },
}


def after_click(marks: dict[str, float]) -> dict[str, float]:
    return {name: round(when - CLICKED, 3) for name, when in marks.items()}


def test_the_hubs_moments_are_this_users_after_the_click() -> None:
    marks = spawn_timeline.hub_marks(HUB_LOG, "student", "jupyter-student", CLICKED)
    assert after_click(marks) == {
        "spawn_initiated": 0.12,
        "pod_create_requested": 0.18,
        "kubespawner_saw_pod_running": 2.4,
        "spawner_start_returned": 4.7,
        "server_answered_hub": 4.71,
        "route_requested": 4.72,
        "progress_ended": 4.73,
    }


def test_a_moment_the_log_lacks_is_left_out() -> None:
    marks = spawn_timeline.hub_marks(HUB_LOG, "student", "jupyter-student", CLICKED + 3)
    assert set(marks) == {
        "spawner_start_returned",
        "server_answered_hub",
        "route_requested",
        "progress_ended",
    }


def test_the_pods_and_the_labs_moments() -> None:
    assert after_click(spawn_timeline.pod_marks(POD)) == {
        "pod_created": 0.0,
        "pod_scheduled": 0.0,
        "container_started": 1.0,
    }
    assert after_click(spawn_timeline.lab_marks(LAB_LOG)) == {
        "server_first_log": 3.9,
        "server_listening": 4.65,
    }


def test_the_segments_follow_one_another_from_the_click_to_the_lab() -> None:
    timeline = spawn_timeline.SpawnTimeline(
        {
            "clicked": CLICKED,
            **spawn_timeline.hub_marks(HUB_LOG, "student", "jupyter-student", CLICKED),
            **spawn_timeline.pod_marks(POD),
            **spawn_timeline.lab_marks(LAB_LOG),
            "lab_url_reached": CLICKED + 4.75,
            "lab_document_received": CLICKED + 5.0,
            "lab_shown": CLICKED + 6.5,
            "benchmark_saw_lab": CLICKED + 7.0,
        }
    )
    segments = timeline.segments()
    assert segments == {
        "hub": 0.18,
        "pod_start": 0.82,
        "kubespawner_poll": 1.4,
        "listen_wait": 2.3,
        "hub_wait_up": 0.01,
        "proxy_route": 0.02,
        "browser": 1.77,
        "server_start": 3.65,
        "browser_redirect": 0.02,
        "lab_document": 0.25,
        "lab_page_load": 1.75,
        "benchmark_poll": 0.5,
    }
    critical_path = [name for name, _, _ in spawn_timeline.SEGMENTS]
    assert sum(segments[name] for name in critical_path) == pytest.approx(6.5)
    relative = list(timeline.relative().values())
    assert relative == sorted(relative)
    assert timeline.relative()["lab_shown"] == 6.5


def test_the_median_of_each_segment_over_the_spawns_that_saw_it() -> None:
    timelines = [
        spawn_timeline.SpawnTimeline({"clicked": 0.0, "pod_create_requested": hub})
        for hub in (0.1, 0.5, 0.2)
    ]
    assert spawn_timeline.median_segments(timelines) == {"hub": 0.2}
