"""The vllm-eks component provider: serves the library's public components to TypeScript, Go, C#, Java and YAML.

`pulumi package add <repo>/provider` (or a local path) runs this with the Python language host; the schema is
inferred from the components' Args and output annotations (pulumi/provider/experimental/analyzer.py).
"""

from pulumi.provider.experimental import component_provider_host

from vllm_eks import __version__
from vllm_eks.components import PUBLIC_COMPONENTS

if __name__ == "__main__":
    component_provider_host(PUBLIC_COMPONENTS, name="vllm-eks", version=__version__)
