"""The daemon's RPCs for HTTP endpoints (Serve, ListEndpoints, Unserve, EndpointLogs):
thin handlers over the EndpointManager (rhcli.server.serving), mixed into the servicer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc

from rhcli.protocol import daemon_pb2 as pb
from rhcli.server.endpoint_spec import EndpointRefused
from rhcli.server.rpc_common import abort, log_line
from rhcli.server.run_logs import read_records
from rhcli.server.serving import EndpointManager, ServeMissing


class EndpointRpcs:
    """The endpoint RPCs of DaemonServicer; it sets _endpoints."""

    _endpoints: EndpointManager

    def Serve(self, request: pb.ServeRequest, context: grpc.ServicerContext) -> pb.EndpointInfo:
        try:
            return self._endpoints.serve(request.spec, wait_s=request.wait_s)
        except ServeMissing as exc:
            abort(context, grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except EndpointRefused as exc:
            abort(context, _REFUSAL_CODES[exc.kind], str(exc))

    def ListEndpoints(
        self, request: pb.ListEndpointsRequest, context: grpc.ServicerContext
    ) -> pb.ListEndpointsReply:
        return pb.ListEndpointsReply(endpoints=self._endpoints.list(show_token=request.show_token))

    def Unserve(self, request: pb.UnserveRequest, context: grpc.ServicerContext) -> pb.UnserveReply:
        return pb.UnserveReply(found=self._endpoints.unserve(request.name))

    def EndpointLogs(
        self, request: pb.EndpointLogsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.LogBatch]:
        gone = threading.Event()
        context.add_callback(gone.set)
        name = request.name
        path = self._endpoints.log_path(name)
        if not self._endpoints.is_served(name) and not path.exists():
            abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"no endpoint {name!r} on this cluster, and no log of one; "
                "`rhcli endpoints` lists those served",
            )
        for records in read_records(
            path,
            follow=request.follow,
            finished=lambda: not self._endpoints.is_served(name),
            cancelled=gone.is_set,
        ):
            yield pb.LogBatch(lines=[log_line(r) for r in records if not r.get("end")])
        if request.follow and not gone.is_set():
            yield pb.LogBatch(end=True, status="unserved")


_REFUSAL_CODES = {
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "exists": grpc.StatusCode.ALREADY_EXISTS,
    "room": grpc.StatusCode.FAILED_PRECONDITION,
}
