package main

import (
	"context"

	"github.com/sportello/sportello/services/storage"
	"github.com/sportello/sportello/web"
)

// portalDrafts gives the portal the citizens' drafts kept in storage.
type portalDrafts struct{ db *storage.DB }

func (p portalDrafts) SaveDraft(ctx context.Context, contact string, d web.Draft) error {
	return p.db.SaveDraft(ctx, contact, storage.PortalDraft(d))
}

func (p portalDrafts) GetDraft(ctx context.Context, contact string) (web.Draft, bool, error) {
	d, ok, err := p.db.GetDraft(ctx, contact)
	return web.Draft(d), ok, err
}

func (p portalDrafts) DeleteDraft(ctx context.Context, contact string) error {
	return p.db.DeleteDraft(ctx, contact)
}
