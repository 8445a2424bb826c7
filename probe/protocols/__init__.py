"""Wire code, one implementation per protocol: build, bounded read, parse. Each client takes a
connect function and/or a transcript recorder and returns typed observations (with the reason
when there is none), never verdicts. Nothing here imports the check context, services, compliance
or checks: those sit above and use these modules."""
