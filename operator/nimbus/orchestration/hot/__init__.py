"""Heat Orchestration Templates, pure: no kopf, no client.

- template.py: the versions and the functions each allows, the sections and keywords, and a
  template loaded and checked for its shape as Heat checks it (HotError, the engine's refusal).
- functions.py: the evaluation of intrinsic functions and conditions; what a template needs of
  the cloud (a resource's reference, an attribute) comes through a Context.
- graph.py: the dependencies between resources, and the waves they are made in.
"""
