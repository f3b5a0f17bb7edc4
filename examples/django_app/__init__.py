"""shield in front of a Django project (ASGI): everything is in :mod:`examples.django_app.asgi`."""
