"""dagster_ecs_emulator.iam_policy on policy documents: the rules the IAM User Guide states."""

from __future__ import annotations

from typing import Any

from dagster_ecs_emulator.iam_policy import Decision, decide

BUCKET = "arn:aws:s3:::platform"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: str, resource: str = "*", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


LIST_OWN = _allow("s3:ListBucket", BUCKET, StringLike={"s3:prefix": ["repos/foo/*", "dags/foo/*"]})


def test_string_like_allows_a_matching_prefix_only() -> None:
    def decided(prefix: str) -> Decision:
        return decide([_doc(LIST_OWN)], "s3:ListBucket", BUCKET, {"s3:prefix": [prefix]})

    assert decided("repos/foo/assets/") is Decision.ALLOW
    assert decided("dags/foo/") is Decision.ALLOW
    assert decided("repos/bar/") is Decision.IMPLICIT_DENY
    assert decided("repos/") is Decision.IMPLICIT_DENY


def test_an_absent_key_fails_a_condition_but_passes_a_negated_one() -> None:
    assert decide([_doc(LIST_OWN)], "s3:ListBucket", BUCKET, {}) is Decision.IMPLICIT_DENY
    negated = _allow("s3:ListBucket", BUCKET, StringNotLike={"s3:prefix": "secret/*"})
    assert decide([_doc(negated)], "s3:ListBucket", BUCKET, {}) is Decision.ALLOW
    context = {"s3:prefix": ["secret/x"]}
    assert decide([_doc(negated)], "s3:ListBucket", BUCKET, context) is Decision.IMPLICIT_DENY


def test_if_exists_and_null() -> None:
    if_exists = _allow("s3:ListBucket", BUCKET, StringLikeIfExists={"s3:prefix": "a/*"})
    assert decide([_doc(if_exists)], "s3:ListBucket", BUCKET, {}) is Decision.ALLOW
    context = {"s3:prefix": ["b/"]}
    assert decide([_doc(if_exists)], "s3:ListBucket", BUCKET, context) is Decision.IMPLICIT_DENY
    absent = _allow("s3:ListBucket", BUCKET, Null={"s3:prefix": "true"})
    assert decide([_doc(absent)], "s3:ListBucket", BUCKET, {}) is Decision.ALLOW
    assert decide([_doc(absent)], "s3:ListBucket", BUCKET, context) is Decision.IMPLICIT_DENY


def test_a_deny_whose_condition_does_not_match_does_not_apply() -> None:
    deny = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": "ap-southeast-2"}},
    }
    documents = [_doc(_allow("s3:*"), deny)]
    here = {"aws:requestedregion": ["ap-southeast-2"]}
    elsewhere = {"aws:requestedregion": ["us-east-1"]}
    assert decide(documents, "s3:GetObject", f"{BUCKET}/k", here) is Decision.ALLOW
    assert decide(documents, "s3:GetObject", f"{BUCKET}/k", elsewhere) is Decision.EXPLICIT_DENY


def test_every_key_and_operator_must_match_any_value_of_each() -> None:
    statement = _allow(
        "s3:ListBucket",
        BUCKET,
        StringLike={"s3:prefix": ["a/*", "b/*"]},
        StringEquals={"s3:delimiter": "/"},
    )
    both = {"s3:prefix": ["b/x"], "s3:delimiter": ["/"]}
    assert decide([_doc(statement)], "s3:ListBucket", BUCKET, both) is Decision.ALLOW
    no_delimiter = {"s3:prefix": ["b/x"]}
    decision = decide([_doc(statement)], "s3:ListBucket", BUCKET, no_delimiter)
    assert decision is Decision.IMPLICIT_DENY


def test_arn_equals_compares_the_cluster_arn() -> None:
    cluster = "arn:aws:ecs:ap-southeast-2:123456789012:cluster/a"
    statement = _allow("ecs:RunTask", ArnEquals={"ecs:cluster": cluster})
    assert decide([_doc(statement)], "ecs:RunTask", "*", {"ecs:cluster": [cluster]}) is (
        Decision.ALLOW
    )
    other = {"ecs:cluster": [cluster.replace("/a", "/b")]}
    assert decide([_doc(statement)], "ecs:RunTask", "*", other) is Decision.IMPLICIT_DENY
    wildcard = _allow("ecs:RunTask", ArnLike={"ecs:cluster": "arn:aws:ecs:*:*:cluster/*"})
    assert decide([_doc(wildcard)], "ecs:RunTask", "*", other) is Decision.ALLOW


def test_numeric_operators() -> None:
    few = _allow("s3:ListBucket", BUCKET, NumericLessThanEquals={"s3:max-keys": "10"})
    assert decide([_doc(few)], "s3:ListBucket", BUCKET, {"s3:max-keys": ["10"]}) is Decision.ALLOW
    many = {"s3:max-keys": ["1000"]}
    assert decide([_doc(few)], "s3:ListBucket", BUCKET, many) is Decision.IMPLICIT_DENY


def test_action_names_ignore_case_resources_do_not_and_not_resource_excludes() -> None:
    statement = _allow("S3:getobject", f"{BUCKET}/repos/foo/*")
    assert decide([_doc(statement)], "s3:GetObject", f"{BUCKET}/repos/foo/k", {}) is (
        Decision.ALLOW
    )
    upper = f"{BUCKET}/REPOS/foo/k"
    assert decide([_doc(statement)], "s3:GetObject", upper, {}) is Decision.IMPLICIT_DENY
    everything_but = {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": f"{BUCKET}/x/*"}
    assert decide([_doc(everything_but)], "s3:GetObject", f"{BUCKET}/y/k", {}) is Decision.ALLOW
    excluded = f"{BUCKET}/x/k"
    assert decide([_doc(everything_but)], "s3:GetObject", excluded, {}) is Decision.IMPLICIT_DENY


def test_a_key_the_emulator_cannot_fill_is_named_and_ignored() -> None:
    named: list[str] = []
    statement = _allow("s3:GetObject", IpAddress={"aws:SourceIp": "10.0.0.0/8"})
    decision = decide([_doc(statement)], "s3:GetObject", f"{BUCKET}/k", {}, named.append)
    assert decision is Decision.ALLOW
    assert named == ["IpAddress on aws:SourceIp"]


def test_wildcards_do_not_read_regex_syntax() -> None:
    statement = _allow("s3:GetObject", f"{BUCKET}/a.b/*")
    assert decide([_doc(statement)], "s3:GetObject", f"{BUCKET}/a.b/k", {}) is Decision.ALLOW
    assert decide([_doc(statement)], "s3:GetObject", f"{BUCKET}/axb/k", {}) is (
        Decision.IMPLICIT_DENY
    )
