"""Offline deploy, API Gateway v2 (HTTP APIs): the API, its Lambda proxy integration, JWT
authorizer, routes and stage, created in the embedded cloud (moto's apigatewayv2).

moto stores them and returns their ids and endpoint, but does not serve requests through
them (no authorizer runs, no Lambda is invoked): the deploy holds the configuration the
policy pack and the drills read; ``drkit dicomweb serve`` is what answers requests locally.

API Gateway names are not unique, so a second deploy finds what the first made by name
(APIs; authorizers through the routes that use them), route key, stage name and integration
URI, and reuses it.
"""

from __future__ import annotations

from typing import Any

from drills.deploy.common import DeployContext, Handler, Spec, as_bool, as_int, outputs


def _client(ctx: DeployContext, spec: Spec):
    return ctx.client("apigatewayv2", spec.region)


def api(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    name = ctx.physical_name(spec, max_len=128)
    client = _client(ctx, spec)
    found = next((a for a in client.get_apis().get("Items", []) if a.get("Name") == name), None)
    reused = found is not None
    if found is None:
        kwargs: dict[str, Any] = {"Name": name, "ProtocolType": spec.get("protocolType", "HTTP"),
                                  "Tags": {str(k): str(v) for k, v in (spec.get("tags") or {}).items()}}
        if spec.get("description"):
            kwargs["Description"] = spec.get("description")
        found = client.create_api(**kwargs)
    api_id = found["ApiId"]
    ctx.record(spec, api_id, reused=reused)
    execution = f"arn:aws:execute-api:{spec.region}:{ctx.account_id}:{api_id}"
    return api_id, outputs(spec, id=api_id, name=name, apiEndpoint=found["ApiEndpoint"], executionArn=execution,
                           arn=f"arn:aws:apigateway:{spec.region}::/apis/{api_id}")


def integration(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    client, api_id = _client(ctx, spec), str(spec.get("apiId"))
    uri = spec.get("integrationUri")
    found = next((i for i in client.get_integrations(ApiId=api_id).get("Items", [])
                  if i.get("IntegrationUri") == uri), None)
    reused = found is not None
    if found is None:
        kwargs: dict[str, Any] = {"ApiId": api_id, "IntegrationType": spec.get("integrationType")}
        for src, dst in (("integrationUri", "IntegrationUri"), ("payloadFormatVersion", "PayloadFormatVersion"),
                         ("integrationMethod", "IntegrationMethod")):
            if spec.get(src):
                kwargs[dst] = spec.get(src)
        found = client.create_integration(**kwargs)
    iid = found["IntegrationId"]
    ctx.record(spec, iid, reused=reused)
    return iid, outputs(spec, id=iid)


def _route_authorizers(client: Any, api_id: str) -> list[dict[str, Any]]:
    """The authorizers the API's routes name (moto has GetAuthorizer but no GetAuthorizers;
    an authorizer no route uses is not found, and a redeploy makes a new one)."""
    ids = {r["AuthorizerId"] for r in client.get_routes(ApiId=api_id).get("Items", []) if r.get("AuthorizerId")}
    return [client.get_authorizer(ApiId=api_id, AuthorizerId=a) for a in sorted(ids)]


def authorizer(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    client, api_id = _client(ctx, spec), str(spec.get("apiId"))
    name = ctx.physical_name(spec, max_len=128)
    found = next((a for a in _route_authorizers(client, api_id) if a.get("Name") == name), None)
    reused = found is not None
    if found is None:
        kwargs: dict[str, Any] = {"ApiId": api_id, "Name": name, "AuthorizerType": spec.get("authorizerType"),
                                  "IdentitySource": list(spec.get("identitySources") or [])}
        jwt = spec.get("jwtConfiguration")
        if jwt:
            kwargs["JwtConfiguration"] = {"Issuer": jwt.get("issuer"), "Audience": list(jwt.get("audiences") or [])}
        found = client.create_authorizer(**kwargs)
    aid = found["AuthorizerId"]
    ctx.record(spec, aid, reused=reused)
    return aid, outputs(spec, id=aid, name=name)


def route(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    client, api_id = _client(ctx, spec), str(spec.get("apiId"))
    key = spec.get("routeKey")
    found = next((r for r in client.get_routes(ApiId=api_id).get("Items", []) if r.get("RouteKey") == key), None)
    kwargs: dict[str, Any] = {"ApiId": api_id, "RouteKey": key,
                              "AuthorizationType": spec.get("authorizationType", "NONE")}
    for src, dst in (("target", "Target"), ("authorizerId", "AuthorizerId")):
        if spec.get(src):
            kwargs[dst] = spec.get(src)
    if found is None:
        found = client.create_route(**kwargs)
        reused = False
    else:
        found = client.update_route(RouteId=found["RouteId"], **kwargs)
        reused = True
    rid = found["RouteId"]
    ctx.record(spec, rid, reused=reused)
    return rid, outputs(spec, id=rid)


def stage(ctx: DeployContext, spec: Spec) -> tuple[str, dict[str, Any]]:
    client, api_id = _client(ctx, spec), str(spec.get("apiId"))
    name = str(spec.get("name"))
    reused = any(s.get("StageName") == name for s in client.get_stages(ApiId=api_id).get("Items", []))
    if not reused:
        kwargs: dict[str, Any] = {"ApiId": api_id, "StageName": name, "AutoDeploy": as_bool(spec.get("autoDeploy"))}
        logs = spec.get("accessLogSettings")
        if logs:
            kwargs["AccessLogSettings"] = {"DestinationArn": logs.get("destinationArn"), "Format": logs.get("format")}
        throttle = spec.get("defaultRouteSettings")
        if throttle:
            kwargs["DefaultRouteSettings"] = {
                k: v for k, v in (("ThrottlingBurstLimit", throttle.get("throttlingBurstLimit")),
                                  ("ThrottlingRateLimit", throttle.get("throttlingRateLimit"))) if v is not None}
            if "ThrottlingBurstLimit" in kwargs["DefaultRouteSettings"]:
                kwargs["DefaultRouteSettings"]["ThrottlingBurstLimit"] = as_int(throttle["throttlingBurstLimit"])
        client.create_stage(**kwargs)
    ctx.record(spec, name, reused=reused)
    return name, outputs(spec, id=name, name=name)


HANDLERS: dict[str, Handler] = {
    "aws:apigatewayv2/api:Api": api,
    "aws:apigatewayv2/integration:Integration": integration,
    "aws:apigatewayv2/authorizer:Authorizer": authorizer,
    "aws:apigatewayv2/route:Route": route,
    "aws:apigatewayv2/stage:Stage": stage,
}
