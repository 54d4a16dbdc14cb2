"""Offline twin of `pulumi preview`: render a stack under mocks, check it with the policy pack, plan its cost."""
