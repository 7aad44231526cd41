package postgres

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// AttachmentService implements assistloop.AttachmentService: file bytes go
// to the blob store, their description to the attachments table.
type AttachmentService struct {
	db    *DB
	blobs assistloop.BlobStore
	// maxBytes caps one file.
	maxBytes int64
}

// NewAttachmentService returns the attachment service storing files in
// blobs, each at most maxBytes.
func NewAttachmentService(db *DB, blobs assistloop.BlobStore, maxBytes int64) *AttachmentService {
	return &AttachmentService{db: db, blobs: blobs, maxBytes: maxBytes}
}

var _ assistloop.AttachmentService = (*AttachmentService)(nil)

// MaxBytes is the size limit of one file.
func (s *AttachmentService) MaxBytes() int64 { return s.maxBytes }

// allowedTypes are the content types an upload may have, as sniffed from
// its first bytes (the reference's list: images, video, audio, archives,
// PDF, Word documents, plain text). HTML, SVG, scripts and executables
// are refused, whatever the client says.
var allowedTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true,
	"video/mp4": true, "video/mpeg": true, "video/webm": true,
	"audio/mpeg": true, "audio/wave": true, "audio/ogg": true, "audio/aiff": true,
	"application/pdf": true, "application/zip": true, "application/x-rar-compressed": true,
	"application/msword": true, "text/plain; charset=utf-8": true,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": true,
}

// sniffContentType names the content from its first bytes, with
// http.DetectContentType plus the formats it does not know: MP3 frames
// without an ID3 tag, Ogg audio, OLE2 Word documents and DOCX (a zip whose
// name says so).
func sniffContentType(head []byte, fileName string) string {
	ct := http.DetectContentType(head)
	switch {
	case ct == "application/octet-stream" && len(head) >= 2 && head[0] == 0xFF && head[1]&0xE0 == 0xE0:
		return "audio/mpeg"
	case ct == "application/octet-stream" && bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}):
		return "application/msword"
	case ct == "application/ogg":
		return "audio/ogg"
	case ct == "application/zip" && strings.EqualFold(path.Ext(fileName), ".docx"):
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	}
	return ct
}

// cleanFileName keeps a safe display name: the last path element, without
// control characters, at most 255 characters.
func cleanFileName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(strings.TrimSpace(name))
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "_")
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > assistloop.MaxNameLength {
		name = string(r[:assistloop.MaxNameLength])
	}
	if name == "" || name == "." || name == "/" {
		return "file"
	}
	return name
}

// tooLarge is the error of a file above the limit.
func (s *AttachmentService) tooLarge() error {
	return &assistloop.Error{Code: assistloop.ETOOLARGE, Title: "Payload too large",
		Message: "A file may not be larger than " + assistloop.FormatBytes(s.maxBytes) + "."}
}

// limited fails with tooLarge once more than max bytes were read.
type limited struct {
	r   io.Reader
	n   int64
	max int64
	err error
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, l.err
	}
	return n, err
}

// UploadAttachment streams a file into the blob store: it sniffs the first
// 512 bytes (refusing a disallowed type before anything is stored), then
// copies the rest through a size limit; a refused or failed write leaves
// no blob, and a failed insert deletes the blob again.
func (s *AttachmentService) UploadAttachment(ctx context.Context, in assistloop.UploadAttachmentInput) (*assistloop.Attachment, error) {
	p, err := requireWriter(ctx)
	if err != nil {
		return nil, err
	}
	conv := new(assistloop.Conversation)
	q := s.db.bun.NewSelect().Model(conv).Column("id", "organization_id").
		Where("?TableAlias.id = ?", in.ConversationID).Where("?TableAlias.deleted_at IS NULL")
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("upload attachment", notFound("Conversation", err))
	}
	if in.OrganizationID != conv.OrganizationID {
		return nil, assistloop.NotFound("Conversation")
	}
	name := cleanFileName(in.FileName)
	body := &limited{r: in.Body, max: s.maxBytes, err: s.tooLarge()}
	head := make([]byte, 512)
	n, err := io.ReadFull(body, head)
	switch {
	case errors.Is(err, io.EOF):
		return nil, assistloop.InvalidField("fileAttachment", "The file is empty.")
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return nil, err
	}
	head = head[:n]
	ct := sniffContentType(head, name)
	if !allowedTypes[ct] {
		return nil, &assistloop.Error{Code: assistloop.EUNSUPPORTED, Title: "Unsupported media type",
			Message: "The file type is not allowed. Allowed: JPG, PNG, GIF, WEBP, MP4, MPEG, WEBM, MP3, WAV, OGG, AIFF, PDF, ZIP, RAR, DOC, DOCX and TXT."}
	}
	a := &assistloop.Attachment{ID: assistloop.NewID(assistloop.PrefixAttachment), OrganizationID: conv.OrganizationID,
		FileName: name, ContentType: ct, ConversationID: &conv.ID}
	if p.UserID != "" {
		a.UploadedBy = &p.UserID
	}
	a.StorageKey = conv.OrganizationID + "/" + a.ID
	size, err := s.blobs.Write(ctx, a.StorageKey, ct, io.MultiReader(bytes.NewReader(head), body))
	if err != nil {
		return nil, err
	}
	a.SizeBytes = size
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		a.CreatedAt = ts
		_, err = tx.NewInsert().Model(a).Exec(ctx)
		return err
	})
	if err != nil {
		if derr := s.blobs.Delete(context.WithoutCancel(ctx), a.StorageKey); derr != nil {
			s.db.log.Error("deleting the blob of a failed upload", "attachment", a.ID, "err", derr)
		}
		return nil, wrap("upload attachment", err)
	}
	return a, nil
}

// DiscardAttachments deletes the caller's unclaimed uploads among ids.
func (s *AttachmentService) DiscardAttachments(ctx context.Context, ids []string) error {
	p, err := requireWriter(ctx)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	var gone []*assistloop.Attachment
	q := s.db.bun.NewDelete().Model(&gone).Where("id IN (?)", bun.In(ids)).Where("message_id IS NULL")
	if !p.System {
		q = q.Where("uploaded_by = ?", p.UserID)
	}
	if _, err := q.Returning("storage_key").Exec(ctx); err != nil {
		return wrap("discard attachments", err)
	}
	for _, a := range gone {
		if err := s.blobs.Delete(ctx, a.StorageKey); err != nil {
			return wrap("discard attachments", err)
		}
	}
	return nil
}

// FindAttachment returns an attachment of a live conversation of the
// caller's workspaces.
func (s *AttachmentService) FindAttachment(ctx context.Context, id string) (*assistloop.Attachment, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	a := new(assistloop.Attachment)
	q := s.db.bun.NewSelect().Model(a).Where("?TableAlias.id = ?", id).
		Where(`NOT EXISTS (SELECT 1 FROM conversations AS c WHERE c.deleted_at IS NOT NULL AND c.id = coalesce(?TableAlias.conversation_id,
			(SELECT m.conversation_id FROM messages AS m WHERE m.id = ?TableAlias.message_id)))`)
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("find attachment", notFound("Attachment", err))
	}
	return a, nil
}

// OpenAttachment returns an attachment and a reader of its bytes.
func (s *AttachmentService) OpenAttachment(ctx context.Context, id string) (*assistloop.Attachment, io.ReadCloser, error) {
	a, err := s.FindAttachment(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	r, err := s.blobs.Read(ctx, a.StorageKey)
	if err != nil {
		return nil, nil, wrap("open attachment", err)
	}
	return a, r, nil
}
