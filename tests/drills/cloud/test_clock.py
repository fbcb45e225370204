def test_fixture_smoke(cloud, s3, bucket_name):
    b = bucket_name()
    s3.create_bucket(Bucket=b)
    assert b in [x["Name"] for x in s3.list_buckets()["Buckets"]]
