export { IngestAuthorizeRequest, IngestAuthorizeResponse } from "@dionysia/shared";
