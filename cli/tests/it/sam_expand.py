"""Expands template.yaml with aws-sam-translator, offline (what `sam deploy` sends CloudFormation to
expand): prints the CloudFormation JSON, or fails with the translator's errors."""
import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")


class ManagedPolicies:
    """The AWS managed policies SAM attaches, by name (no IAM call)."""

    def load(self):
        base = "arn:aws:iam::aws:policy/service-role/"
        return {
            name: base + name
            for name in [
                "AWSLambdaBasicExecutionRole",
                "AWSLambdaVPCAccessExecutionRole",
                "AWSLambdaSQSQueueExecutionRole",
            ]
        }


template = yaml_parse(open(sys.argv[1]).read())
# What `sam deploy` does before CloudFormation sees the template: each local CodeUri becomes the S3
# object it uploaded.
for name, resource in template["Resources"].items():
    if resource.get("Type") == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = f"s3://sam-artifacts/{name}.zip"
json.dump(transform(template, {}, ManagedPolicies()), sys.stdout, indent=1)
