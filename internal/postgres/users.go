package postgres

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/assistloop/assistloop/internal/assistloop"
	"github.com/assistloop/assistloop/internal/auth"
)

// UserService implements assistloop.UserService.
type UserService struct{ db *DB }

// NewUserService returns the user service over db.
func NewUserService(db *DB) *UserService { return &UserService{db: db} }

var _ assistloop.UserService = (*UserService)(nil)

// CreateUser creates a user, a workspace they own and one agent in it. It
// needs no principal: it is how accounts come to exist (CLI, demo).
func (s *UserService) CreateUser(ctx context.Context, in assistloop.CreateUserInput) (*assistloop.User, *assistloop.Organization, *assistloop.Agent, error) {
	in.Email = strings.TrimSpace(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	in.OrganizationName = strings.TrimSpace(in.OrganizationName)
	if in.AgentName == "" {
		in.AgentName = "Customer Support Agent"
	}
	if err := in.Validate(); err != nil {
		return nil, nil, nil, err
	}
	hash := auth.HashPassword(in.Password) // slow on purpose: outside the transaction
	var (
		user  *assistloop.User
		org   *assistloop.Organization
		agent *assistloop.Agent
	)
	err := s.db.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ts, err := now(ctx, tx)
		if err != nil {
			return err
		}
		user = &assistloop.User{ID: assistloop.NewID(assistloop.PrefixUser), Email: in.Email, Name: in.Name, PasswordHash: hash, CreatedAt: ts, UpdatedAt: ts}
		if _, err := tx.NewInsert().Model(user).Exec(ctx); err != nil {
			if pgCode(err) == pgUniqueViolation {
				return &assistloop.Error{Code: assistloop.ECONFLICT, Title: "Email taken", Message: "A user with this email already exists.",
					Fields: map[string][]string{"email": {"The email has already been taken."}}}
			}
			return err
		}
		org, err = createOrganization(ctx, tx, in.OrganizationName, user.ID, ts)
		if err != nil {
			return err
		}
		agent, err = createAgent(ctx, tx, org.ID, in.AgentName, ts)
		return err
	})
	if err != nil {
		return nil, nil, nil, wrap("create user", err)
	}
	return user, org, agent, nil
}

func createOrganization(ctx context.Context, idb bun.IDB, name, ownerID string, ts time.Time) (*assistloop.Organization, error) {
	org := &assistloop.Organization{ID: assistloop.NewID(assistloop.PrefixOrganization), Name: name, CreatedAt: ts}
	if _, err := idb.NewInsert().Model(org).Exec(ctx); err != nil {
		return nil, err
	}
	m := &assistloop.Membership{OrganizationID: org.ID, UserID: ownerID, Role: assistloop.RoleOwner, CreatedAt: ts}
	if _, err := idb.NewInsert().Model(m).Exec(ctx); err != nil {
		return nil, err
	}
	return org, nil
}

func createAgent(ctx context.Context, idb bun.IDB, orgID, name string, ts time.Time) (*assistloop.Agent, error) {
	a := &assistloop.Agent{ID: assistloop.NewID(assistloop.PrefixAgent), OrganizationID: orgID, Name: name, CreatedAt: ts}
	if _, err := idb.NewInsert().Model(a).Exec(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// AuthenticateUser checks an email and password.
func (s *UserService) AuthenticateUser(ctx context.Context, email, password string) (*assistloop.User, error) {
	fail := &assistloop.Error{Code: assistloop.EUNAUTHORIZED, Title: "Invalid credentials", Message: "The email or password is incorrect."}
	u := new(assistloop.User)
	err := s.db.bun.NewSelect().Model(u).Where("lower(email) = lower(?)", strings.TrimSpace(email)).Scan(ctx)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			auth.CheckDummyPassword(password)
			return nil, fail
		}
		return nil, wrap("authenticate user", err)
	}
	ok, err := auth.CheckPassword(password, u.PasswordHash)
	if err != nil {
		return nil, wrap("authenticate user", err)
	}
	if !ok {
		return nil, fail
	}
	return u, nil
}

// FindUser returns a user by id. The caller must be that user, share a
// workspace with them, or be the system principal.
func (s *UserService) FindUser(ctx context.Context, id string) (*assistloop.User, error) {
	users, err := s.UsersByIDs(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, assistloop.NotFound("User")
	}
	return users[0], nil
}

// UsersByIDs returns the users visible to the caller.
func (s *UserService) UsersByIDs(ctx context.Context, ids []string) ([]*assistloop.User, error) {
	p, err := assistloop.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var users []*assistloop.User
	q := s.db.bun.NewSelect().Model(&users).Where("?TableAlias.id IN (?)", bun.In(ids))
	if !p.System {
		q = q.Where(`(?TableAlias.id = ? OR EXISTS (
			SELECT 1 FROM memberships AS theirs JOIN memberships AS mine ON mine.organization_id = theirs.organization_id
			WHERE theirs.user_id = ?TableAlias.id AND mine.user_id = ?))`, p.UserID, p.UserID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, wrap("users by ids", err)
	}
	return users, nil
}
