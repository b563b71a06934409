"""`pulumi up` at the repository root runs this (Pulumi.yaml ``main``)."""

from stackdef.deploy.program import program

program()
