"""The HTTP side: the Starlette app, its lifespan, middleware and non-GraphQL routes."""
