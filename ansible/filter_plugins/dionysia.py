"""Jinja filters for the Dionysia rollout (loaded by ansible from next to site.yml)."""
import hashlib
import hmac


def dionysia_node_mqtt_password(secret, node_id):
    """Node N's MQTT password: hex HMAC-SHA256(enrolment secret, "dionysia/mqtt/node/" + N).

    The same derivation as shared/src/mqtt-auth.ts nodePassword; computed on the controller so
    the enrolment secret itself never reaches an origin host.
    """
    msg = ("dionysia/mqtt/node/" + str(node_id)).encode()
    return hmac.new(str(secret).encode(), msg, hashlib.sha256).hexdigest()


class FilterModule(object):
    def filters(self):
        return {"dionysia_node_mqtt_password": dionysia_node_mqtt_password}
