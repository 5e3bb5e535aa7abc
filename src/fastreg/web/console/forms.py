"""What the console checks of a wizard form before the use case runs: empty required fields ("请填写…", in the
page's language) and, for step 5, every refusal of the form at once."""

from __future__ import annotations

from collections.abc import Callable

from fastreg.platform import Platform
from fastreg.services import registration

# For each wizard action, its required fields and the catalogue key of each one's label.
REQUIRED: dict[str, dict[str, str]] = {
    "account": {"email": "field.email", "password": "field.password", "password_confirm": "field.password_confirm"},
    "email": {"email": "step6.new_email"},
}


def form_errors(
    platform: Platform, action: str, form: dict[str, str], t: Callable[..., str], lang: str
) -> dict[str, str]:
    """Field → message for the form of ``action`` ({} when the use case may run)."""
    required = REQUIRED.get(action, {})
    errors = {
        name: t("form.required", label=t(label)) for name, label in required.items() if not form.get(name, "").strip()
    }
    if action == "account":
        problems = registration.account_problems(
            platform, form.get("email", ""), form.get("password", ""), form.get("password_confirm", "")
        )
        for problem in problems:
            if problem.field and problem.field not in errors:
                errors[problem.field] = problem.message(lang)
    return errors
