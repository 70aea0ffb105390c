"""The call tests of tests/client/test_calls.py, run again against the SSH cluster.

Everything the local cluster does with a call must work the same over SSH (issue 5, item
7): the same test functions, with the `local` fixture pointing at the session's SSH
cluster instead. Tests tied to this machine's daemon (its token file, scripts run in a
local project) stay local-only.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.client.test_calls import (  # noqa: F401 - collected here a second time
    test_builtin_remote_exception_keeps_its_type,
    test_call_by_entrypoint_string,
    test_call_by_reference_returns_the_result,
    test_closure_travels_by_value_with_what_it_captured,
    test_entrypoint_with_a_missing_function_lists_the_module_functions,
    test_entrypoint_with_a_missing_module_is_not_found,
    test_exception_that_cannot_be_rebuilt_arrives_as_remote_error,
    test_file_not_found_on_the_cluster_names_the_run,
    test_function_timeout_applies_to_every_call,
    test_lambda_travels_by_value,
    test_remote_exception_is_raised_as_its_own_type,
    test_resources_the_cluster_lacks_are_refused_at_once,
    test_sys_exit_in_the_function_fails_the_run_without_exiting_the_caller,
    test_timeout_stops_the_run_quickly_and_the_next_call_works,
    test_unpicklable_argument_is_refused_before_sending,
    test_unpicklable_result_fails_the_run,
    test_warm_worker_serves_consecutive_calls,
    test_worker_that_dies_fails_the_run_and_the_next_call_works,
)
from tests.client.test_large_values import (  # noqa: F401 - collected here a second time
    test_an_argument_over_the_inline_limit_arrives_whole,
)
from tests.client.test_remote_and_get import (  # noqa: F401 - collected here a second time
    test_a_run_ref_passed_on_keeps_its_value_on_the_cluster,
    test_a_run_ref_to_a_map_resolves_to_its_list_of_results_on_the_cluster,
)


@pytest.fixture
def local(box: Any) -> Any:
    """Here `local` is the SSH cluster: the same tests, the other kind of cluster."""
    return box.cluster
