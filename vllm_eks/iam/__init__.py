"""IAM policy documents and IRSA trust policies, built by pure functions."""
