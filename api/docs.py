"""Placeholder until the offline docs land (helper is writing this file)."""

from fastapi import FastAPI


def mount_docs(app: FastAPI, *, title: str) -> None:
    """Nothing yet."""
