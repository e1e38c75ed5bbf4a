"""Response models of the endpoints, as the OpenAPI document shows them."""
