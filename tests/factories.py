"""factory-boy factories shared by the test modules."""

import factory
from django.contrib.auth import get_user_model

from cors_admin.models import CorsOrigin, CorsPolicy


class CorsPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CorsPolicy
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"policy-{n}")
    path = "/api/"
    path_type = "prefix"


class CorsOriginFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CorsOrigin

    policy = factory.SubFactory(CorsPolicyFactory)
    origin = factory.Sequence(lambda n: f"https://app{n}.example.com")
    note = ""


def policy_with_origins(*origins: str, **fields: object) -> CorsPolicy:
    """A policy with these allowlist entries (created in one go)."""
    policy = CorsPolicyFactory(**fields)
    for origin in origins:
        CorsOriginFactory(policy=policy, origin=origin)
    return policy


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw")
    is_staff = False
