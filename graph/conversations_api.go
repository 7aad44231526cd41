package graph

import (
	"context"

	"github.com/google/uuid"

	"github.com/assistloop/assistloop/graph/model"
	"github.com/assistloop/assistloop/internal/assistloop"
)

// Helpers of the Conversations API resolvers.

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sentences(in []*model.TranscriptionSentenceInput) []assistloop.TranscriptionSentence {
	if in == nil {
		return nil
	}
	out := make([]assistloop.TranscriptionSentence, len(in))
	for i, s := range in {
		out[i] = assistloop.TranscriptionSentence{MediaChannel: s.MediaChannel, SentenceIndex: s.SentenceIndex,
			StartTime: s.StartTime, EndTime: s.EndTime, Transcript: s.Transcript, Confidence: s.Confidence}
	}
	return out
}

// conversationSearch translates the GraphQL search input. A malformed
// conversation id matches nothing.
func conversationSearch(in model.ConversationSearchInput) assistloop.ConversationSearch {
	s := assistloop.ConversationSearch{OrganizationID: in.OrganizationUUID, Query: deref(in.Query),
		ChatUserID: in.ChatUserUUID, AgentID: in.AgentUUID, AssignedTo: in.AssignedTo, Status: in.Status,
		ResponseMode: in.ResponseMode, CreatedFrom: in.CreatedFrom, CreatedTo: in.CreatedTo, StartAfter: in.StartAfter}
	if in.ConversationUUID != nil {
		id, ok := assistloop.ParseUUID(*in.ConversationUUID)
		if !ok {
			id = uuid.Nil
		}
		s.ConversationID = &id
	}
	if in.Unassigned != nil {
		s.Unassigned = *in.Unassigned
	}
	if in.ReadState != nil {
		s.ReadState = *in.ReadState
	}
	if in.SortBy != nil {
		s.SortBy = *in.SortBy
	}
	s.Ascending = in.SortOrder != nil && *in.SortOrder == model.SortOrderAsc
	return s
}

// prefetchConversations loads the relations a page of conversations shows
// in one batch each, so the items' resolvers find them cached.
func prefetchConversations(ctx context.Context, cs []*assistloop.Conversation) {
	l := loadersFrom(ctx)
	var chatUsers, users, agents []string
	var messages []uuid.UUID
	for _, c := range cs {
		agents = append(agents, c.AgentID)
		if c.ChatUserID != nil {
			chatUsers = append(chatUsers, *c.ChatUserID)
		}
		if c.AssignedTo != nil {
			users = append(users, *c.AssignedTo)
		}
		if c.LastMessageID != nil {
			messages = append(messages, *c.LastMessageID)
		}
	}
	done := make(chan struct{}, 4)
	for _, f := range []func(){
		func() { prefetch(ctx, l.chatUsers, chatUsers) },
		func() { prefetch(ctx, l.users, users) },
		func() { prefetch(ctx, l.agents, agents) },
		func() { prefetch(ctx, l.messages, messages) },
	} {
		go func() { f(); done <- struct{}{} }()
	}
	for range 4 {
		<-done
	}
}

// participants are the conversation's customer, agent and assignee.
func participants(ctx context.Context, c *assistloop.Conversation) ([]*model.Participant, error) {
	l := loadersFrom(ctx)
	var out []*model.Participant
	if c.ChatUserID != nil {
		cu, err := l.chatUsers.Load(ctx, *c.ChatUserID)
		if err != nil {
			return nil, err
		}
		out = append(out, &model.Participant{Role: model.ParticipantRoleContact, UUID: cu.ID, Name: cu.Name, Email: cu.Email})
	}
	a, err := l.agents.Load(ctx, c.AgentID)
	if err != nil {
		return nil, err
	}
	out = append(out, &model.Participant{Role: model.ParticipantRoleAgent, UUID: a.ID, Name: &a.Name})
	if c.AssignedTo != nil {
		u, err := l.users.Load(ctx, *c.AssignedTo)
		if err == nil {
			out = append(out, &model.Participant{Role: model.ParticipantRoleAssignee, UUID: u.ID, Name: &u.Name, Email: &u.Email})
		} else if assistloop.ErrorCode(err) != assistloop.ENOTFOUND {
			return nil, err
		}
	}
	return out, nil
}
