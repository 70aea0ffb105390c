"""What Ray Serve says of an application, told in rhcli's words (no Serve needed)."""

from __future__ import annotations

from types import SimpleNamespace

from rhcli.server.serve_status import app_status

FAILED_TWICE = """\
Failed to update the deployments ['predict']. The deployment failed to start 3 times in a \
row. This may be due to a problem with its constructor or initial health check failing. \
See controller logs for details. Error:
\x1b[36mray::ServeReplica:predict:predict.initialize_and_get_metadata()\x1b[39m (pid=1)
  File "/venv/lib/python3.11/site-packages/ray/serve/_private/replica.py", line 3521, in init
    await self._replica_impl.initialize(deployment_config, rank, gang_context)
RuntimeError: Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/ray/serve/api.py", line 468, in __init__
    cls.__init__(self, *args, **kwargs)
  File "/proj/broken.py", line 2, in <module>
    raise RuntimeError('no model weights here')
    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
RuntimeError: no model weights here
"""


def _app(status: str, message: str = "", deployment_message: str = "") -> SimpleNamespace:
    deployment = SimpleNamespace(message=deployment_message, replica_states={})
    return SimpleNamespace(
        status=SimpleNamespace(value=status), message=message, deployments={"d": deployment}
    )


def test_serve_statuses_read_as_endpoint_statuses() -> None:
    assert app_status(_app("RUNNING")) == ("running", "")
    assert app_status(_app("DEPLOYING", "updating")) == ("deploying", "updating")
    assert app_status(_app("NOT_STARTED"))[0] == "deploying"
    assert app_status(_app("UNHEALTHY"))[0] == "unhealthy"


def test_an_application_serve_no_longer_has_is_failed_and_says_to_serve_again() -> None:
    assert app_status(None) == ("failed", "its Serve application is gone; serve it again")


def test_a_replica_traceback_is_cut_to_the_exception_it_ends_with() -> None:
    status, message = app_status(_app("DEPLOY_FAILED", FAILED_TWICE))
    assert status == "failed"
    assert message == "Ray Serve tried 3 times: RuntimeError: no model weights here"


def test_a_message_without_a_traceback_stays_whole_without_colours() -> None:
    status, message = app_status(_app("DEPLOY_FAILED", "\x1b[31mno room\x1b[0m", "for GPU=8"))
    assert (status, message) == ("failed", "no room for GPU=8")
