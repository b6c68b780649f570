# Builds the cozy-apiserver image used by artifacts/deploy.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN GOWORK=off go mod download
COPY apis apis
COPY cmd cmd
COPY generated generated
COPY pkg pkg
RUN GOWORK=off CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /cozy-apiserver ./cmd/cozy-apiserver

FROM gcr.io/distroless/static:nonroot
COPY --from=build /cozy-apiserver /cozy-apiserver
USER 65532:65532
ENTRYPOINT ["/cozy-apiserver"]
