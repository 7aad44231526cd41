package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// Files: uploads, attachment downloads, call recordings and transcripts.
//
// Uploads travel through GraphQL like everything else: each file part of
// the multipart body becomes the Upload of one uploadAttachment mutation,
// its reader being the part itself, so the bytes stream from the socket
// to the blob store and never sit whole in memory. Downloads run their
// GraphQL document (scope, tenancy, metadata) and then stream the bytes
// from the attachment service: GraphQL has no way to return a stream.

// attachmentDTO is an uploaded file (the fields Find Messages shows,
// camelCase here).
type attachmentDTO struct {
	ID          string `json:"id"`
	FileName    string `json:"fileName"`
	ContentType string `json:"contentType"`
	Size        int64  `json:"size"`
	URL         string `json:"url"`
}

// uploadResponse is the reference's {"uploadedFiles": {name: url}} plus
// every file's details.
type uploadResponse struct {
	UploadedFiles map[string]string `json:"uploadedFiles"`
	Attachments   []attachmentDTO   `json:"attachments"`
}

// partFile is a multipart part as an Upload's file: read once, in order.
type partFile struct{ io.Reader }

func (partFile) Seek(int64, int) (int64, error) { return 0, errors.New("rest: an upload cannot seek") }

const discardDocument = `mutation RestDiscardAttachments($ids: [ID!]!) {
  discardAttachments(input: {ids: $ids}) { ids }
}`

// maxFormField caps a plain (non-file) field of an upload.
const maxFormField = 1024

// uploadAttachmentsRoute: POST /conversations/messages/upload, multipart
// with the fields locationId and conversationId (or the same query
// parameters) before the files ("fileAttachment", any number up to the
// limit). A file above UPLOAD_MAX_BYTES is 413, one whose bytes are not an
// allowed type 415; either way nothing of the request is kept.
var uploadAttachmentsRoute = &route{
	method:  http.MethodPost,
	pattern: "/conversations/messages/upload",
	scope:   assistloop.ScopeWriteConversations,
	document: `mutation RestUploadAttachment($input: UploadAttachmentInput!) {
  uploadAttachment(input: $input) { attachment { id fileName contentType size url } }
}`,
	serve: func(x *exchange) (any, error) {
		mt, params, err := mime.ParseMediaType(x.r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
			return nil, &assistloop.Error{Code: assistloop.EUNSUPPORTED, Title: "Unsupported media type",
				Message: "The request body must be multipart/form-data."}
		}
		tooLarge := &assistloop.Error{Code: assistloop.ETOOLARGE, Title: "Payload too large",
			Message: fmt.Sprintf("A file may not be larger than %s, and an upload may have at most %d files.",
				assistloop.FormatBytes(x.uploadMaxBytes), x.uploadMaxFiles)}
		maxTotal := int64(x.uploadMaxFiles)*x.uploadMaxBytes + 1<<20
		if x.r.ContentLength > maxTotal {
			// Refused before reading: close the connection rather than
			// drain what the client is still sending.
			x.w.Header().Set("Connection", "close")
			return nil, tooLarge
		}
		mr := multipart.NewReader(http.MaxBytesReader(x.w, x.r.Body, maxTotal), params["boundary"])
		q := x.r.URL.Query()
		fields := map[string]string{"locationId": q.Get("locationId"), "conversationId": q.Get("conversationId")}
		var uploaded []attachmentDTO
		fail := func(err error) (any, error) {
			if len(uploaded) > 0 {
				ids := make([]string, len(uploaded))
				for i, a := range uploaded {
					ids[i] = a.ID
				}
				if _, derr := x.execute(x.r.Context(), discardDocument, map[string]any{"ids": ids}); derr != nil {
					x.log.ErrorContext(x.r.Context(), "rest: discarding a refused upload's files", "err", derr)
				}
			}
			switch assistloop.ErrorCode(err) {
			case assistloop.ETOOLARGE, assistloop.EUNSUPPORTED, codeBadRequest:
				x.w.Header().Set("Connection", "close") // the rest of the body stays unread
			}
			return nil, err
		}
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var maxErr *http.MaxBytesError
				if errors.As(err, &maxErr) {
					return fail(tooLarge)
				}
				return fail(badRequest("The multipart body is malformed."))
			}
			if part.FileName() == "" {
				v, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
				if err != nil {
					return fail(badRequest("The multipart body is malformed."))
				}
				if _, ok := fields[part.FormName()]; ok {
					if len(v) > maxFormField {
						return fail(assistloop.InvalidField(part.FormName(), "The "+attribute(part.FormName())+" is too long."))
					}
					fields[part.FormName()] = string(v)
				}
				continue
			}
			invalid := assistloop.Invalid()
			for _, name := range []string{"locationId", "conversationId"} {
				if fields[name] == "" {
					invalid.Add(name, "The "+attribute(name)+" field is required (before the files).")
				}
			}
			if len(uploaded) == x.uploadMaxFiles {
				invalid.Add("fileAttachment", fmt.Sprintf("An upload may have at most %d files.", x.uploadMaxFiles))
			}
			if err := invalid.Err(); err != nil {
				return fail(err)
			}
			upload := graphql.Upload{File: partFile{part}, Filename: part.FileName(), Size: -1,
				ContentType: part.Header.Get("Content-Type")}
			data, err := x.run(map[string]any{"input": map[string]any{
				"organizationUuid": fields["locationId"], "conversationUuid": fields["conversationId"], "file": upload}})
			if err != nil {
				return fail(err)
			}
			var out struct {
				UploadAttachment struct{ Attachment attachmentDTO }
			}
			if err := json.Unmarshal(data, &out); err != nil {
				return fail(err)
			}
			uploaded = append(uploaded, out.UploadAttachment.Attachment)
		}
		if len(uploaded) == 0 {
			invalid := assistloop.Invalid()
			for _, name := range []string{"locationId", "conversationId"} {
				if fields[name] == "" {
					invalid.Add(name, "The "+attribute(name)+" field is required (before the files).")
				}
			}
			invalid.Add("fileAttachment", "At least one file is required.")
			return nil, invalid.Err()
		}
		res := uploadResponse{UploadedFiles: map[string]string{}, Attachments: uploaded}
		for _, a := range uploaded {
			res.UploadedFiles[a.FileName] = a.URL
		}
		return res, nil
	},
}

// fileMeta is an attachment as the download documents select it.
type fileMeta struct {
	ID          string
	FileName    string
	ContentType string
	Size        int64
}

// streamAttachment writes the attachment's bytes with its stored content
// type, as a download that browsers never sniff or render in place.
func (x *exchange) streamAttachment(meta fileMeta) (any, error) {
	a, r, err := x.attachments.OpenAttachment(x.r.Context(), meta.ID)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	h := x.w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("Content-Length", strconv.FormatInt(a.SizeBytes, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.FileName}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	x.w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(x.w, r); err != nil {
		x.log.WarnContext(x.r.Context(), "rest: streaming an attachment stopped", "attachment", a.ID, "err", err)
	}
	return streamed{}, nil
}

// attachmentDownloadRoute: GET /conversations/messages/attachments/{attachmentId},
// the URL every attachment shows (Attachment.url).
var attachmentDownloadRoute = &route{
	method:  http.MethodGet,
	pattern: "/conversations/messages/attachments/{attachmentId}",
	scope:   assistloop.ScopeReadMessages,
	document: `query RestAttachment($id: ID!) {
  attachment(id: $id) { id fileName contentType size }
}`,
	serve: func(x *exchange) (any, error) {
		var out struct{ Attachment fileMeta }
		if err := x.runInto(map[string]any{"id": x.pathParam("attachmentId")}, &out); err != nil {
			return nil, err
		}
		return x.streamAttachment(out.Attachment)
	},
}

// recordingRoute: GET /conversations/messages/{messageId}/locations/{locationId}/recording,
// the message's audio attachment.
var recordingRoute = &route{
	method:  http.MethodGet,
	pattern: "/conversations/messages/{messageId}/locations/{locationId}/recording",
	scope:   assistloop.ScopeReadMessages,
	document: `query RestRecording($id: ID!, $org: ID!) {
  messageRecording(messageId: $id, organizationUuid: $org) { id fileName contentType size }
}`,
	serve: func(x *exchange) (any, error) {
		var out struct{ MessageRecording fileMeta }
		if err := x.runInto(map[string]any{"id": x.pathParam("messageId"), "org": x.pathParam("locationId")}, &out); err != nil {
			return nil, err
		}
		return x.streamAttachment(out.MessageRecording)
	},
}

const transcriptionDocument = `query RestTranscription($id: ID!, $org: ID!) {
  messageTranscription(messageId: $id, organizationUuid: $org) {
    mediaChannel sentenceIndex startTime endTime transcript confidence
  }
}`

func (x *exchange) transcription() ([]transcriptionSentence, error) {
	var out struct{ MessageTranscription []transcriptionSentence }
	if err := x.runInto(map[string]any{"id": x.pathParam("messageId"), "org": x.pathParam("locationId")}, &out); err != nil {
		return nil, err
	}
	return out.MessageTranscription, nil
}

// transcriptionRoute: GET /conversations/locations/{locationId}/messages/{messageId}/transcription,
// the transcript's sentences in the reference's shape.
var transcriptionRoute = &route{
	method:   http.MethodGet,
	pattern:  "/conversations/locations/{locationId}/messages/{messageId}/transcription",
	scope:    assistloop.ScopeReadMessages,
	document: transcriptionDocument,
	serve: func(x *exchange) (any, error) {
		return x.transcription()
	},
}

// transcriptionDownloadRoute: GET …/transcription/download, the transcript
// as transcription.txt, one sentence per line.
var transcriptionDownloadRoute = &route{
	method:   http.MethodGet,
	pattern:  "/conversations/locations/{locationId}/messages/{messageId}/transcription/download",
	scope:    assistloop.ScopeReadMessages,
	document: transcriptionDocument,
	serve: func(x *exchange) (any, error) {
		ss, err := x.transcription()
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		for _, s := range ss {
			b.WriteString(s.Transcript)
			b.WriteByte('\n')
		}
		h := x.w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="transcription.txt"`)
		h.Set("X-Content-Type-Options", "nosniff")
		x.w.WriteHeader(http.StatusOK)
		_, _ = x.w.Write(b.Bytes())
		return streamed{}, nil
	},
}
