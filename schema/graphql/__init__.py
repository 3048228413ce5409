"""Strawberry types over the claims domain (the GraphQL contract; SDL in schema/schema.graphql)."""
