"""A replicated bucket pair on the embedded cloud (source us-east-1, destination us-west-2)."""

from __future__ import annotations

from dataclasses import dataclass

LAG = 30
ROLE = "arn:aws:iam::123456789012:role/replication"
# Replication Time Control with its metrics (S3 accepts only 15 minutes for both).
RTC = {"ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
       "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}


@dataclass
class Pair:
    cloud: object
    src: str
    dst: str
    east: object     # s3 client for the source bucket (us-east-1)
    west: object     # s3 client for the destination bucket (us-west-2)

    def configure(self, *rules: dict, bucket: str | None = None, client=None) -> None:
        (client or self.east).put_bucket_replication(
            Bucket=bucket or self.src, ReplicationConfiguration={"Role": ROLE, "Rules": list(rules)})

    def advance(self, seconds: float) -> None:
        self.cloud.clock.advance(seconds)

    def replica_versions(self, key: str) -> list[str]:
        listed = self.west.list_object_versions(Bucket=self.dst, Prefix=key)
        return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key]

    def status(self, key: str, version_id: str | None = None, *, dst: bool = False) -> str | None:
        client, bucket = (self.west, self.dst) if dst else (self.east, self.src)
        extra = {"VersionId": version_id} if version_id else {}
        return client.head_object(Bucket=bucket, Key=key, **extra).get("ReplicationStatus")


def make_rule(dest: str, rule_id: str = "all", priority: int = 1, *, prefix: str = "", tags: dict | None = None,
              status: str = "Enabled", delete_markers: bool = False, **extra) -> dict:
    if tags:
        tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
        filt = {"And": {"Prefix": prefix, "Tags": tag_list}} if prefix or len(tag_list) > 1 else {"Tag": tag_list[0]}
    else:
        filt = {"Prefix": prefix}
    destination = {"Bucket": f"arn:aws:s3:::{dest}", **extra.pop("destination", {})}
    return {"ID": rule_id, "Priority": priority, "Status": status, "Filter": filt, "Destination": destination,
            "DeleteMarkerReplication": {"Status": "Enabled" if delete_markers else "Disabled"}, **extra}


def make_pair(cloud, bucket_name, *, lock: bool = False, dst_versioned: bool = True,
              dst_lock: bool | None = None) -> Pair:
    # One client for both buckets: moto (and the outage behaviour) route by the bucket's home
    # region, and each extra boto3 client costs ~0.5 s to build.
    east = west = cloud.target.client("s3", "us-east-1")
    src, dst = bucket_name("src"), bucket_name("dst")
    east.create_bucket(Bucket=src, ObjectLockEnabledForBucket=lock)
    west.create_bucket(Bucket=dst, CreateBucketConfiguration={"LocationConstraint": "us-west-2"},
                       ObjectLockEnabledForBucket=lock if dst_lock is None else dst_lock)
    east.put_bucket_versioning(Bucket=src, VersioningConfiguration={"Status": "Enabled"})
    if dst_versioned:
        west.put_bucket_versioning(Bucket=dst, VersioningConfiguration={"Status": "Enabled"})
    return Pair(cloud, src, dst, east, west)


def dimensions(pair, rule_id: str = "all") -> list[dict]:
    return [{"Name": "SourceBucket", "Value": pair.src}, {"Name": "DestinationBucket", "Value": pair.dst},
            {"Name": "RuleId", "Value": rule_id}]
