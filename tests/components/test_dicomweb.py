"""components/dicomweb.py under Pulumi mocks: a Lambda behind an HTTP API per region, every
route behind the configured authorizer, access-logged without query strings, read-only
permissions unless writable."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest

from components.base import Site
from components.dicomweb import DicomWeb, DicomWebArgs, DicomWebAuth
from drills.deploy import pulumi_internals as internals
from drills.deploy.program import RecordingMocks, _RecordingMonitor, default_create

JWT = DicomWebAuth("jwt", issuer="https://idp.example/realms/pacs", audiences=("drkit-dicomweb",))


def _create(args):
    """The defaults, plus the computed attributes AWS returns for APIs and functions."""
    rid, outputs = default_create(args)
    if args.typ == "aws:apigatewayv2/api:Api":
        outputs.update(executionArn=f"arn:aws:execute-api:us-west-2:123456789012:{rid}",
                       apiEndpoint=f"https://{rid}.execute-api.us-west-2.amazonaws.com")
    if args.typ == "aws:lambda/function:Function":
        outputs["invokeArn"] = f"arn:aws:apigateway:us-west-2:lambda:path/functions/{outputs['arn']}/invocations"
    return rid, outputs


def build(tmp_path: Path, **overrides):
    archive = tmp_path / "function.zip"
    archive.write_bytes(b"zip")
    mocks = RecordingMocks(create=_create)
    internals.fresh_root_stack()
    pulumi.runtime.set_mocks(mocks, project="drkit", stack="test", preview=False, monitor=_RecordingMonitor(mocks))
    pulumi.runtime.set_all_config({}, secret_keys=[])

    def program() -> None:
        site = Site(aws.Provider("dr", region="us-west-2"), "us-west-2")
        fields = dict(site=site, role="dr", bucket="replica", bucket_arn="arn:aws:s3:::replica", table="index",
                      table_arn="arn:aws:dynamodb:us-west-2:123456789012:table/index",
                      kms_key_arn="arn:aws:kms:us-west-2:123456789012:key/k", auth=JWT, function_archive=archive)
        fields.update(overrides)
        DicomWeb("drkit-test-dicomweb-dr", DicomWebArgs(**fields))

    with internals.captured_exports():
        internals.clear_run_state()
        internals.run_program(program)
    return {r.type: r for r in mocks.resources}, [r for r in mocks.resources]


def _policy(resources) -> list[dict]:
    return json.loads(resources["aws:iam/rolePolicy:RolePolicy"].inputs["policy"])["Statement"]


def test_every_route_needs_the_jwt_authorizer_and_only_this_api_invokes(tmp_path):
    by_type, _ = build(tmp_path)
    authorizer = by_type["aws:apigatewayv2/authorizer:Authorizer"].inputs
    assert authorizer["authorizerType"] == "JWT"
    assert authorizer["jwtConfiguration"] == {"issuer": JWT.issuer, "audiences": list(JWT.audiences)}
    route = by_type["aws:apigatewayv2/route:Route"].inputs
    assert route["routeKey"] == "$default" and route["authorizationType"] == "JWT" and route["authorizerId"]
    permission = by_type["aws:lambda/permission:Permission"].inputs
    assert permission["principal"] == "apigateway.amazonaws.com" and permission["sourceArn"].endswith("/*/$default")
    assert "aws:lambda/functionUrl:FunctionUrl" not in by_type          # no way around the authorizer
    assert by_type["aws:apigatewayv2/api:Api"].inputs["protocolType"] == "HTTP"     # HTTPS only


def test_iam_authorizer_variant(tmp_path):
    by_type, _ = build(tmp_path, auth=DicomWebAuth("iam"))
    assert by_type["aws:apigatewayv2/route:Route"].inputs["authorizationType"] == "AWS_IAM"
    assert "aws:apigatewayv2/authorizer:Authorizer" not in by_type


def test_access_log_never_records_the_query_string(tmp_path):
    by_type, _ = build(tmp_path)
    stage = by_type["aws:apigatewayv2/stage:Stage"].inputs
    fmt = stage["accessLogSettings"]["format"]
    assert "$context.path" in fmt and "$context.status" in fmt
    assert "querystring" not in fmt.lower() and "rawQueryString" not in fmt
    assert by_type["aws:cloudwatch/logGroup:LogGroup"].inputs["kmsKeyId"].startswith("arn:aws:kms:us-west-2")


def test_function_reads_its_region_and_is_read_only_unless_writable(tmp_path):
    by_type, _ = build(tmp_path)
    env = by_type["aws:lambda/function:Function"].inputs["environment"]["variables"]
    assert env == {"DRKIT_DICOMWEB_ROLE": "dr", "DRKIT_DICOMWEB_REGION": "us-west-2",
                   "DRKIT_DICOMWEB_BUCKET": "replica", "DRKIT_DICOMWEB_TABLE": "index",
                   "DRKIT_DICOMWEB_WRITABLE": "false"}
    actions = {a for s in _policy(by_type) for a in s["Action"]}
    assert "s3:GetObject" in actions and "dynamodb:Query" in actions
    assert not {a for a in actions if a.startswith(("s3:Put", "dynamodb:Put", "dynamodb:Update"))}
    writable, _ = build(tmp_path, writable=True, role="primary")
    assert {"s3:PutObject", "dynamodb:PutItem"} <= {a for s in _policy(writable) for a in s["Action"]}


def test_bad_authorizer_settings_are_refused():
    with pytest.raises(ValueError):
        DicomWebAuth("anonymous")
    with pytest.raises(ValueError):
        DicomWebAuth("jwt", issuer="http://insecure.example", audiences=("a",))


def test_archive_key_and_app_key_each_used_only_through_their_services(tmp_path):
    """kms:ViaService limits a key to calls AWS services make on the caller's behalf:
    https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service"""
    app = "arn:aws:kms:us-west-2:123456789012:key/app"
    by_type, resources = build(tmp_path, app_kms_key_arn=app, writable=True)
    for group in [r for r in resources if r.type == "aws:cloudwatch/logGroup:LogGroup"]:
        assert group.inputs["kmsKeyId"] == app, group.name
    function = by_type["aws:lambda/function:Function"].inputs
    assert function["kmsKeyArn"] == app and function["reservedConcurrentExecutions"] == 20
    statements = {s["Sid"]: s for s in _policy(by_type)}
    for sid in ("UseKey", "EncryptStored"):
        assert set(statements[sid]["Resource"]) == {"arn:aws:kms:us-west-2:123456789012:key/k", app}, sid
        assert statements[sid]["Condition"]["StringEquals"]["kms:ViaService"] == [
            f"{svc}.us-west-2.amazonaws.com" for svc in ("s3", "dynamodb", "secretsmanager")], sid
