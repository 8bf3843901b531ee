/** A real mosquitto on a free loopback port: the same helper the control and origin suites use. */
export { type Mosquitto, startMosquitto } from "../../control/test/helpers/mqttBroker.ts";
