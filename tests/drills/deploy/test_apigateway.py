"""drills/deploy/apigateway.py: an HTTP API, its Lambda proxy integration, JWT authorizer,
route and stage created through boto3 (moto's apigatewayv2), and found again on a redeploy.

CreateApi / CreateIntegration / CreateAuthorizer / CreateRoute / CreateStage:
https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis.html
HTTP APIs have one ``$default`` stage that auto-deploys and an ``execute-api`` ARN
``arn:aws:execute-api:REGION:ACCOUNT:API_ID`` that Lambda permissions name:
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html
"""

from __future__ import annotations

import pytest
from moto import mock_aws

from drills.aws import Target
from drills.deploy import apigateway
from drills.deploy.common import DeployContext, Spec

REGION = "eu-west-1"
LAMBDA_URI = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:" \
             "123456789012:function:f/invocations"


@pytest.fixture
def ctx():
    with mock_aws():
        yield DeployContext(Target(endpoint=None), stack="dev", project="drkit")


def deploy_api(ctx: DeployContext) -> dict[str, str]:
    api_id, api = apigateway.api(ctx, Spec("aws:apigatewayv2/api:Api", "web-api",
                                           {"protocolType": "HTTP", "description": "d"}, REGION))
    iid, _ = apigateway.integration(ctx, Spec("aws:apigatewayv2/integration:Integration", "web-integration", {
        "apiId": api_id, "integrationType": "AWS_PROXY", "integrationUri": LAMBDA_URI,
        "payloadFormatVersion": "2.0"}, REGION))
    aid, _ = apigateway.authorizer(ctx, Spec("aws:apigatewayv2/authorizer:Authorizer", "web-authorizer", {
        "apiId": api_id, "authorizerType": "JWT", "identitySources": ["$request.header.Authorization"],
        "jwtConfiguration": {"issuer": "https://idp.example.org", "audiences": ["drkit-dicomweb"]}}, REGION))
    rid, _ = apigateway.route(ctx, Spec("aws:apigatewayv2/route:Route", "web-route", {
        "apiId": api_id, "routeKey": "$default", "target": f"integrations/{iid}", "authorizationType": "JWT",
        "authorizerId": aid}, REGION))
    apigateway.stage(ctx, Spec("aws:apigatewayv2/stage:Stage", "web-stage", {
        "apiId": api_id, "name": "$default", "autoDeploy": True,
        "accessLogSettings": {"destinationArn": "arn:aws:logs:eu-west-1:123456789012:log-group:access",
                              "format": '{"requestId":"$context.requestId"}'},
        "defaultRouteSettings": {"throttlingBurstLimit": 200, "throttlingRateLimit": 100}}, REGION))
    return {"api": api_id, "endpoint": api["apiEndpoint"], "execution": api["executionArn"], "integration": iid,
            "authorizer": aid, "route": rid}


def test_http_api_with_jwt_route_and_logged_stage_is_created(ctx) -> None:
    made = deploy_api(ctx)
    client = ctx.client("apigatewayv2", REGION)
    assert made["endpoint"].startswith("https://") and made["execution"] == \
        f"arn:aws:execute-api:{REGION}:{ctx.account_id}:{made['api']}"
    (route,) = client.get_routes(ApiId=made["api"])["Items"]
    assert (route["RouteKey"], route["AuthorizationType"], route["AuthorizerId"], route["Target"]) == \
        ("$default", "JWT", made["authorizer"], f"integrations/{made['integration']}")
    authorizer = client.get_authorizer(ApiId=made["api"], AuthorizerId=made["authorizer"])
    assert authorizer["JwtConfiguration"] == {"Issuer": "https://idp.example.org", "Audience": ["drkit-dicomweb"]}
    integration = client.get_integration(ApiId=made["api"], IntegrationId=made["integration"])
    assert (integration["IntegrationType"], integration["IntegrationUri"]) == ("AWS_PROXY", LAMBDA_URI)
    (stage,) = client.get_stages(ApiId=made["api"])["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["AccessLogSettings"]["DestinationArn"].endswith(":log-group:access")
    assert all(not r.reused for r in ctx.created) and len(ctx.created) == 5


def test_a_second_deploy_reuses_what_the_first_made(ctx) -> None:
    first = deploy_api(ctx)
    again = DeployContext(ctx.target, stack="dev", project="drkit")      # the next `drkit up`, same cloud
    second = deploy_api(again)
    assert first == second
    assert all(r.reused for r in again.created) and len(again.created) == 5
    client = ctx.client("apigatewayv2", REGION)
    assert len(client.get_apis()["Items"]) == 1 and len(client.get_routes(ApiId=first["api"])["Items"]) == 1
