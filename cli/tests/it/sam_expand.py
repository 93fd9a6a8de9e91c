"""Expands template.yaml with aws-sam-translator, offline (what `sam deploy` sends CloudFormation to
expand): prints the CloudFormation JSON, or fails with the translator's errors.

    sam_expand.py template.yaml [Key=Value ...]             the expanded template
    sam_expand.py template.yaml --resolve [Key=Value ...]   ... as CloudFormation would create it with
        these parameter values: the Rules checked (a failed assertion fails with its description), the
        Conditions decided, resources and outputs whose condition is false left out, every Fn::If
        replaced by its chosen branch and AWS::NoValue dropped. Refs to parameters stay as they are.
    sam_expand.py template.yaml --defaults [Key=Value ...]  the template itself (not expanded), with
        these values as the parameters' defaults: cfn-lint resolves Refs to parameters from their
        defaults, so linting this checks the template with that parameter set.
"""
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


class Unresolvable(Exception):
    pass


def parameter_values(template, given):
    values = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in given:
            values[name] = given[name]
        elif "Default" in spec:
            values[name] = str(spec["Default"])
        else:
            raise Unresolvable(f"parameter {name} has no default: give {name}=...")
        if spec.get("Type") == "CommaDelimitedList" or spec.get("Type", "").startswith("List<"):
            values[name] = [v.strip() for v in values[name].split(",")]
    return values


def evaluate(expr, params, conditions):
    """A condition or rule expression, with the parameter values given."""
    if isinstance(expr, (str, int, float, bool)):
        return expr
    if isinstance(expr, list):
        return [evaluate(e, params, conditions) for e in expr]
    if not isinstance(expr, dict) or len(expr) != 1:
        raise Unresolvable(f"cannot evaluate {expr!r}")
    (op, arg), = expr.items()
    if op == "Ref":
        if arg not in params:
            raise Unresolvable(f"Ref {arg} in a condition")
        return params[arg]
    if op == "Condition":
        return conditions(arg)
    if op == "Fn::Equals":
        a, b = (evaluate(x, params, conditions) for x in arg)
        return str(a) == str(b)
    if op == "Fn::Not":
        return not evaluate(arg[0], params, conditions)
    if op == "Fn::And":
        return all(evaluate(x, params, conditions) for x in arg)
    if op == "Fn::Or":
        return any(evaluate(x, params, conditions) for x in arg)
    if op == "Fn::EachMemberEquals":
        values, value = evaluate(arg[0], params, conditions), evaluate(arg[1], params, conditions)
        return all(v == value for v in values)
    if op == "Fn::Join":
        return arg[0].join(evaluate(arg[1], params, conditions))
    raise Unresolvable(f"cannot evaluate {op}")


def decided_conditions(template, params):
    definitions = template.get("Conditions", {})
    decided = {}

    def condition(name):
        if name not in decided:
            decided[name] = bool(evaluate(definitions[name], params, condition))
        return decided[name]

    for name in definitions:
        condition(name)
    return decided


def check_rules(template, params, conditions):
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params, conditions.get):
            continue
        for assertion in rule.get("Assertions", []):
            if not evaluate(assertion["Assert"], params, conditions.get):
                raise Unresolvable(f"rule {name}: {assertion.get('AssertDescription', 'failed')}")


NO_VALUE = object()


def choose(node, conditions):
    if isinstance(node, list):
        chosen = [choose(x, conditions) for x in node]
        return [x for x in chosen if x is not NO_VALUE]
    if isinstance(node, dict):
        if len(node) == 1 and "Fn::If" in node:
            name, yes, no = node["Fn::If"]
            return choose(yes if conditions[name] else no, conditions)
        if node == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        chosen = {k: choose(v, conditions) for k, v in node.items()}
        return {k: v for k, v in chosen.items() if v is not NO_VALUE}
    return node


def resolve(expanded, params):
    conditions = decided_conditions(expanded, params)
    check_rules(expanded, params, conditions)
    for section in ("Resources", "Outputs"):
        expanded[section] = {
            name: item
            for name, item in expanded.get(section, {}).items()
            if conditions.get(item.get("Condition"), True)
        }
    resolved = choose(expanded, conditions)
    resolved["DecidedConditions"] = conditions
    return resolved


def main():
    args = sys.argv[1:]
    path, args = args[0], args[1:]
    mode = None
    if args and args[0] in ("--resolve", "--defaults"):
        mode, args = args[0], args[1:]
    given = dict(a.split("=", 1) for a in args)
    template = yaml_parse(open(path).read())
    try:
        if mode == "--defaults":
            for name, value in given.items():
                template["Parameters"][name]["Default"] = value
            json.dump(template, sys.stdout, indent=1)
            return
        params = parameter_values(template, given)
        # What `sam deploy` does before CloudFormation sees the template: each function's local
        # CodeUri becomes the S3 object it uploaded (`sam build`'s artifact, zipped).
        for name, resource in template["Resources"].items():
            if resource.get("Type") == "AWS::Serverless::Function":
                resource["Properties"]["CodeUri"] = f"s3://sam-artifacts/{name}.zip"
                resource.pop("Metadata", None)
        translator_params = {k: ",".join(v) if isinstance(v, list) else v for k, v in given.items()}
        expanded = transform(template, translator_params, ManagedPolicies())
        if mode == "--resolve":
            expanded = resolve(expanded, params)
        json.dump(expanded, sys.stdout, indent=1)
    except Unresolvable as error:
        print(error, file=sys.stderr)
        sys.exit(2)


main()
