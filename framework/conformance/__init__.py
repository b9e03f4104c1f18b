"""The checks of the conformance kit, one module per kind of component. Import them
from ``framework.testing``, the kit's public face."""
