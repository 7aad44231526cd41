package postgres

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
)

// OrganizationService implements assistloop.OrganizationService.
type OrganizationService struct{ db *DB }

// NewOrganizationService returns the workspace service over db.
func NewOrganizationService(db *DB) *OrganizationService { return &OrganizationService{db: db} }

var _ assistloop.OrganizationService = (*OrganizationService)(nil)

// ListOrganizations lists the caller's workspaces, newest first.
func (s *OrganizationService) ListOrganizations(ctx context.Context, page assistloop.Page) (*assistloop.OrganizationPage, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if page, err = normalizePage(page); err != nil {
		return nil, err
	}
	var orgs []*assistloop.Organization
	q := visibleTo(s.db.bun.NewSelect().Model(&orgs), p, "id")
	if q, err = applyKeyset(q, page, false); err != nil {
		return nil, err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap("list organizations", err)
	}
	rows, cursors, info := window(orgs, page, func(o *assistloop.Organization) (time.Time, string) { return o.CreatedAt, o.ID })
	return &assistloop.OrganizationPage{Organizations: rows, Cursors: cursors, PageInfo: info}, nil
}

// FindOrganization returns a workspace the caller is a member of.
func (s *OrganizationService) FindOrganization(ctx context.Context, id string) (*assistloop.Organization, error) {
	orgs, err := s.OrganizationsByIDs(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(orgs) == 0 {
		return nil, assistloop.NotFound("Organization")
	}
	return orgs[0], nil
}

// OrganizationsByIDs returns the caller's workspaces among ids.
func (s *OrganizationService) OrganizationsByIDs(ctx context.Context, ids []string) ([]*assistloop.Organization, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var orgs []*assistloop.Organization
	q := s.db.bun.NewSelect().Model(&orgs).Where("?TableAlias.id IN (?)", bun.In(ids))
	if err := visibleTo(q, p, "id").Scan(ctx); err != nil {
		return nil, wrap("organizations by ids", err)
	}
	return orgs, nil
}

// CreateOrganization creates a workspace owned by the calling user.
func (s *OrganizationService) CreateOrganization(ctx context.Context, name string) (*assistloop.Organization, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	if p.UserID == "" {
		return nil, assistloop.Errorf(assistloop.EFORBIDDEN, "Only a user can own a workspace.")
	}
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	var org *assistloop.Organization
	err = s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		org, err = createOrganization(ctx, tx, strings.TrimSpace(name), p.UserID, ts)
		return err
	})
	return org, wrap("create organization", err)
}

func validateName(field, name string) error {
	switch n := utf8.RuneCountInString(strings.TrimSpace(name)); {
	case n == 0:
		return assistloop.InvalidField(field, "The "+field+" field is required.")
	case n > assistloop.MaxNameLength:
		return assistloop.InvalidField(field, "The "+field+" may not be greater than 255 characters.")
	}
	return nil
}

// AgentService implements assistloop.AgentService.
type AgentService struct{ db *DB }

// NewAgentService returns the agent service over db.
func NewAgentService(db *DB) *AgentService { return &AgentService{db: db} }

var _ assistloop.AgentService = (*AgentService)(nil)

// ListAgents lists a workspace's agents, newest first.
func (s *AgentService) ListAgents(ctx context.Context, organizationID string, page assistloop.Page) (*assistloop.AgentPage, error) {
	if _, err := NewOrganizationService(s.db).FindOrganization(ctx, organizationID); err != nil {
		return nil, err
	}
	page, err := normalizePage(page)
	if err != nil {
		return nil, err
	}
	var agents []*assistloop.Agent
	q := s.db.bun.NewSelect().Model(&agents).Where("?TableAlias.organization_id = ?", organizationID)
	if q, err = applyKeyset(q, page, false); err != nil {
		return nil, err
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap("list agents", err)
	}
	rows, cursors, info := window(agents, page, func(a *assistloop.Agent) (time.Time, string) { return a.CreatedAt, a.ID })
	return &assistloop.AgentPage{Agents: rows, Cursors: cursors, PageInfo: info}, nil
}

// FindAgent returns an agent in one of the caller's workspaces.
func (s *AgentService) FindAgent(ctx context.Context, id string) (*assistloop.Agent, error) {
	agents, err := s.AgentsByIDs(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(agents) == 0 {
		return nil, assistloop.NotFound("Agent")
	}
	return agents[0], nil
}

// AgentsByIDs returns the agents among ids in the caller's workspaces.
func (s *AgentService) AgentsByIDs(ctx context.Context, ids []string) ([]*assistloop.Agent, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var agents []*assistloop.Agent
	q := s.db.bun.NewSelect().Model(&agents).Where("?TableAlias.id IN (?)", bun.In(ids))
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("agents by ids", err)
	}
	return agents, nil
}

// CreateAgent creates an agent in one of the caller's workspaces.
func (s *AgentService) CreateAgent(ctx context.Context, organizationID, name string) (*assistloop.Agent, error) {
	if _, err := NewOrganizationService(s.db).FindOrganization(ctx, organizationID); err != nil {
		return nil, err
	}
	if err := validateName("name", name); err != nil {
		return nil, err
	}
	ts, err := now(ctx, s.db.bun)
	if err != nil {
		return nil, wrap("create agent", err)
	}
	a, err := createAgent(ctx, s.db.bun, organizationID, strings.TrimSpace(name), ts)
	return a, wrap("create agent", err)
}

// ChatUserService implements assistloop.ChatUserService.
type ChatUserService struct{ db *DB }

// NewChatUserService returns the chat user service over db.
func NewChatUserService(db *DB) *ChatUserService { return &ChatUserService{db: db} }

var _ assistloop.ChatUserService = (*ChatUserService)(nil)

// ChatUsersByIDs returns the chat users among ids in the caller's workspaces.
func (s *ChatUserService) ChatUsersByIDs(ctx context.Context, ids []string) ([]*assistloop.ChatUser, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var users []*assistloop.ChatUser
	q := s.db.bun.NewSelect().Model(&users).Where("?TableAlias.id IN (?)", bun.In(ids))
	if err := visibleTo(q, p, "organization_id").Scan(ctx); err != nil {
		return nil, wrap("chat users by ids", err)
	}
	return users, nil
}
