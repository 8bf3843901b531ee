/** The origin suite's one waitFor (polls with a deadline; no fixed sleeps), under the media tests' names. */
export { isAlive as pidAlive, waitFor } from "../helpers/wait.ts";
