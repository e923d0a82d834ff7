#include <string.h>

#include "kontor/i18n.h"

/*
 * German uses the formal "Sie" throughout, as is usual for company
 * accounts, and typographic quotes and dashes.
 */
struct i18n_entry {
	const char *key;
	const char *de;
	const char *en;
};

static const struct i18n_entry i18n_table[] = {
    /* Every page */
    {"page.brand", "kontor — Unternehmenskonto", "kontor — company account"},
    {"page.title_suffix", "kontor", "kontor"},

    /* Login */
    {"login.title", "Anmelden", "Sign in"},
    {"login.intro", "Melden Sie sich mit Ihrem Unternehmenskonto an.",
     "Sign in with your company account."},
    {"login.intro_client",
     "Melden Sie sich mit Ihrem Unternehmenskonto an, um mit {client} "
     "fortzufahren.",
     "Sign in with your company account to continue to {client}."},
    {"login.email", "E-Mail-Adresse", "Email address"},
    {"login.password", "Passwort", "Password"},
    {"login.submit", "Anmelden", "Sign in"},
    {"login.other_account", "Anderes Konto verwenden", "Use another account"},
    {"login.previous.title", "Noch kein kontor-Konto?",
     "No kontor account yet?"},
    {"login.previous.button", "Mit Ihrem bisherigen Konto anmelden: {name}",
     "Sign in with your previous account: {name}"},
    {"login.error.credentials", "E-Mail-Adresse oder Passwort ist falsch.",
     "Wrong email address or password."},
    {"login.error.throttled",
     "Zu viele Anmeldeversuche. Bitte warten Sie einige Minuten und "
     "versuchen Sie es dann erneut.",
     "Too many sign-in attempts. Please wait a few minutes and try again."},
    {"login.error.expired",
     "Ihre Sitzung ist abgelaufen. Bitte versuchen Sie es erneut.",
     "Your session has expired. Please try again."},
    {"login.error.missing", "Bitte geben Sie E-Mail-Adresse und Passwort ein.",
     "Please enter your email address and password."},

    /* Consent */
    {"consent.title", "Zugriff erlauben?", "Allow access?"},
    {"consent.wants_access", "{client} möchte auf Ihr Konto zugreifen:",
     "{client} wants to access your account:"},
    {"consent.signed_in_as", "Angemeldet als {account}",
     "Signed in as {account}"},
    {"consent.allow", "Erlauben", "Allow"},
    {"consent.deny", "Ablehnen", "Deny"},
    {"scope.openid", "Sie mit Ihrem Unternehmenskonto anmelden",
     "Sign you in with your company account"},
    {"scope.profile", "Ihren Namen und Ihre Profilangaben sehen",
     "See your name and profile information"},
    {"scope.email", "Ihre E-Mail-Adresse sehen", "See your email address"},
    {"scope.offline_access",
     "Auch dann auf diese Daten zugreifen, wenn Sie nicht angemeldet sind",
     "Access this information while you are not signed in"},
    {"scope.unknown", "Weitere Berechtigung: {scope}",
     "Additional permission: {scope}"},

    /* Select account */
    {"select.title", "Konto auswählen", "Choose an account"},
    {"select.intro", "Sie sind bereits angemeldet.",
     "You are already signed in."},
    {"select.intro_client",
     "Sie sind bereits angemeldet. Welches Konto möchten Sie für {client} "
     "verwenden?",
     "You are already signed in. Which account do you want to use for "
     "{client}?"},
    {"select.continue_as", "Weiter als {account}", "Continue as {account}"},
    {"select.other_account", "Anderes Konto verwenden", "Use another account"},

    /* Choose the organisation to act for */
    {"org.title", "Unternehmen auswählen", "Choose a company"},
    {"org.intro",
     "Für welches Unternehmen möchten Sie handeln?",
     "Which company do you want to act for?"},
    {"org.intro_client",
     "Für welches Unternehmen möchten Sie bei {client} handeln?",
     "Which company do you want to act for at {client}?"},
    {"org.submit", "Weiter", "Continue"},
    {"org.legend", "Ihre Unternehmen", "Your companies"},
    {"org.role.admin", "Administrator", "Administrator"},
    {"org.role.member", "Mitglied", "Member"},
    {"org.role.representative", "Vertretung (z. B. Steuerberatung)",
     "Representative (e.g. tax adviser)"},
    {"org.none.title", "Kein Unternehmen", "No company"},
    {"org.none.text",
     "Ihr Konto gehört zu keinem aktiven Unternehmen. Bitten Sie eine "
     "Administratorin oder einen Administrator Ihres Unternehmens um eine "
     "Einladung.",
     "Your account does not belong to an active company. Ask an "
     "administrator of your company for an invitation."},

    /* Self-service */
    {"account.title", "Ihr Konto", "Your account"},
    {"account.signed_in_as", "Angemeldet als {account}",
     "Signed in as {account}"},
    {"account.companies", "Ihre Unternehmen", "Your companies"},
    {"account.no_companies", "Sie gehören noch zu keinem Unternehmen.",
     "You do not belong to a company yet."},
    {"account.col.company", "Unternehmen", "Company"},
    {"account.col.role", "Rolle", "Role"},
    {"account.col.actions", "Aktionen", "Actions"},
    {"account.manage", "Mitglieder verwalten", "Manage members"},
    {"account.password.title", "Passwort ändern", "Change password"},
    {"account.password.current", "Aktuelles Passwort", "Current password"},
    {"account.password.new", "Neues Passwort (mindestens 12 Zeichen)",
     "New password (at least 12 characters)"},
    {"account.password.repeat", "Neues Passwort wiederholen",
     "Repeat the new password"},
    {"account.password.submit", "Passwort ändern", "Change password"},
    {"account.password.changed", "Ihr Passwort wurde geändert.",
     "Your password has been changed."},
    {"account.password.wrong", "Das aktuelle Passwort ist falsch.",
     "The current password is wrong."},
    {"account.password.mismatch",
     "Die beiden neuen Passwörter stimmen nicht überein.",
     "The two new passwords do not match."},
    {"account.password.weak",
     "Das neue Passwort muss 12 bis 128 Zeichen lang sein.",
     "The new password must be 12 to 128 characters long."},
    {"account.sessions.title", "Angemeldete Geräte", "Signed-in devices"},
    {"account.sessions.started", "Angemeldet seit", "Signed in since"},
    {"account.sessions.this", "dieses Gerät", "this device"},
    {"account.sessions.end", "Beenden", "End"},
    {"account.sessions.ended", "Die Sitzung wurde beendet.",
     "The session has been ended."},
    {"account.logout", "Abmelden", "Sign out"},
    {"account.error.form",
     "Das Formular ist abgelaufen. Bitte versuchen Sie es erneut.",
     "The form has expired. Please try again."},
    {"account.org.title", "Mitglieder verwalten", "Manage members"},
    {"account.org.intro", "Mitglieder von {org}", "Members of {org}"},
    {"account.org.col.person", "Person", "Person"},
    {"account.org.change_role", "Rolle ändern", "Change role"},
    {"account.org.remove", "Entfernen", "Remove"},
    {"account.org.invite.title", "Person einladen", "Invite a person"},
    {"account.org.invite.email", "E-Mail-Adresse", "Email address"},
    {"account.org.invite.role", "Rolle", "Role"},
    {"account.org.invite.submit", "Einladung senden", "Send invitation"},
    {"account.org.invite.sent", "Die Einladung wurde versandt.",
     "The invitation has been sent."},
    {"account.org.updated", "Die Änderung wurde gespeichert.",
     "The change has been saved."},
    {"account.org.last_admin",
     "Das letzte Administrator-Konto eines Unternehmens kann nicht "
     "entfernt oder herabgestuft werden.",
     "The last administrator of a company cannot be removed or demoted."},
    {"account.org.forbidden",
     "Nur Administratorinnen und Administratoren des Unternehmens können "
     "Mitglieder verwalten.",
     "Only administrators of the company can manage its members."},
    {"account.back", "Zurück zu Ihrem Konto", "Back to your account"},
    {"invite.title", "Einladung", "Invitation"},
    {"invite.intro", "Sie wurden eingeladen, für {org} zu handeln.",
     "You have been invited to act for {org}."},
    {"invite.role", "Ihre Rolle: {role}", "Your role: {role}"},
    {"invite.accept", "Einladung annehmen", "Accept the invitation"},
    {"invite.login", "Mit bestehendem Konto anmelden",
     "Sign in with an existing account"},
    {"invite.register.title", "Neues Konto anlegen", "Create a new account"},
    {"invite.register.name", "Ihr Name", "Your name"},
    {"invite.register.submit", "Konto anlegen", "Create account"},
    {"invite.invalid",
     "Diese Einladung ist ungültig, abgelaufen oder wurde bereits "
     "verwendet.",
     "This invitation is invalid, has expired or has already been used."},
    {"invite.wrong_account",
     "Diese Einladung gilt für eine andere E-Mail-Adresse. Melden Sie sich "
     "mit dem eingeladenen Konto an.",
     "This invitation is for another email address. Sign in with the "
     "invited account."},
    {"invite.accepted", "Sie handeln jetzt auch für {org}.",
     "You now also act for {org}."},
    {"invite.registered",
     "Ihr Konto wurde angelegt. Bitte melden Sie sich an.",
     "Your account has been created. Please sign in."},
    {"invite.exists",
     "Für diese E-Mail-Adresse gibt es bereits ein Konto. Bitte melden Sie "
     "sich an.",
     "There already is an account for this email address. Please sign in."},
    {"invite.mail.subject", "Einladung zu kontor / Invitation to kontor",
     "Einladung zu kontor / Invitation to kontor"},

    {"invite.accepted_plain", "Die Einladung wurde angenommen.",
     "The invitation has been accepted."},
    {"mfa.title", "Zweiter Faktor", "Second factor"},
    {"mfa.off",
     "Schützen Sie Ihr Konto zusätzlich mit Einmal-Codes aus einer "
     "Authenticator-App.",
     "Protect your account further with one-time codes from an "
     "authenticator app."},
    {"mfa.on", "Einmal-Codes aus Ihrer Authenticator-App sind aktiv.",
     "One-time codes from your authenticator app are active."},
    {"mfa.enrol", "Zweiten Faktor einrichten", "Set up a second factor"},
    {"mfa.remove", "Zweiten Faktor entfernen", "Remove the second factor"},
    {"mfa.code", "Einmal-Code (6 Ziffern)", "One-time code (6 digits)"},
    {"mfa.code_or_recovery", "Einmal-Code oder Wiederherstellungscode",
     "One-time code or recovery code"},
    {"mfa.code_wrong", "Der Code ist falsch oder wurde schon verwendet.",
     "The code is wrong or has already been used."},
    {"mfa.enrol.title", "Zweiten Faktor einrichten", "Set up a second factor"},
    {"mfa.enrol.scan",
     "Scannen Sie den QR-Code mit Ihrer Authenticator-App und geben Sie "
     "dann den angezeigten Code ein.",
     "Scan the QR code with your authenticator app, then enter the code it "
     "shows."},
    {"mfa.enrol.qr_label", "QR-Code für die Authenticator-App",
     "QR code for the authenticator app"},
    {"mfa.enrol.manual", "Oder geben Sie diesen Schlüssel von Hand ein:",
     "Or enter this key by hand:"},
    {"mfa.enrol.submit", "Bestätigen", "Confirm"},
    {"mfa.enrolled", "Der zweite Faktor ist eingerichtet.",
     "The second factor is set up."},
    {"mfa.removed", "Der zweite Faktor wurde entfernt.",
     "The second factor has been removed."},
    {"mfa.recovery.title", "Wiederherstellungscodes", "Recovery codes"},
    {"mfa.recovery.intro",
     "Bewahren Sie diese Codes sicher auf. Jeder kann einmal statt eines "
     "Einmal-Codes verwendet werden. Sie werden nur jetzt angezeigt.",
     "Keep these codes safe. Each can be used once instead of a one-time "
     "code. They are shown only now."},
    {"mfa.login.title", "Bestätigung mit zweitem Faktor",
     "Confirm with your second factor"},
    {"mfa.login.intro",
     "Geben Sie den Einmal-Code aus Ihrer Authenticator-App oder einen "
     "Wiederherstellungscode ein.",
     "Enter the one-time code from your authenticator app or a recovery "
     "code."},
    {"mfa.login.submit", "Bestätigen", "Confirm"},
    {"mfa.login.required",
     "Diese Anwendung verlangt einen zweiten Faktor. Richten Sie ihn in "
     "Ihrem Konto ein.",
     "This application requires a second factor. Set it up in your "
     "account."},

    {"fed.error.title", "Anmeldung über das Landeskonto nicht möglich",
     "Sign-in through the state account failed"},
    {"fed.error.unreachable",
     "{name} ist gerade nicht erreichbar oder antwortet nicht richtig. "
     "Bitte versuchen Sie es später noch einmal.",
     "{name} cannot be reached right now or does not answer correctly. "
     "Please try again later."},
    {"fed.error.token",
     "Die Antwort von {name} konnte nicht bestätigt werden. Aus "
     "Sicherheitsgründen wurde nichts verknüpft.",
     "The answer from {name} could not be verified. For your security, "
     "nothing was linked."},
    {"fed.error.state",
     "Diese Anmeldung ist abgelaufen, wurde schon verwendet oder gehört zu "
     "einem anderen Browser. Bitte beginnen Sie von vorn.",
     "This sign-in has expired, was already used or belongs to another "
     "browser. Please start again."},
    {"fed.error.refused", "{name} hat die Anmeldung abgelehnt.",
     "{name} refused the sign-in."},
    {"fed.error.claims",
     "{name} hat keine verwendbaren Angaben zu Ihrem Konto geliefert.",
     "{name} sent no usable details about your account."},
    {"fed.error.account_gone",
     "Das mit diesem Landeskonto verknüpfte Konto ist gesperrt.",
     "The account linked to this state account is disabled."},
    {"fed.error.other_ways",
     "Sie können sich weiterhin mit Ihrem kontor-Konto anmelden.",
     "You can still sign in with your kontor account."},
    {"login.mailcode.button", "Stattdessen einen Code per E-Mail erhalten",
     "Email me a code instead"},
    {"login.mailcode.title", "Code aus der E-Mail", "Code from the email"},
    {"login.mailcode.intro",
     "Wenn die Adresse zu einem aktiven kontor-Konto mit bestätigter "
     "Adresse gehört, haben wir einen achtstelligen Code dorthin geschickt. "
     "Er gilt 10 Minuten. Konten mit zweitem Faktor melden sich mit "
     "Passwort und Code an.",
     "If the address belongs to an active kontor account with a confirmed "
     "address, we have sent an eight-digit code to it. It is valid for 10 "
     "minutes. Accounts with a second factor sign in with password and "
     "code."},
    {"login.mailcode.code", "Code", "Code"},
    {"login.mailcode.submit", "Bestätigen und verknüpfen", "Confirm and link"},
    {"login.mailcode.wrong", "Der Code stimmt nicht.",
     "The code is not right."},
    {"login.mailcode.expired",
     "Der Code ist abgelaufen oder zu oft falsch eingegeben worden. "
     "Fordern Sie einen neuen an oder melden Sie sich mit Ihrem Passwort an.",
     "The code has expired or was entered wrongly too often. Ask for a new "
     "one or sign in with your password."},
    {"login.mailcode.refused",
     "Dieses Konto handelt nicht für das Unternehmen Ihres bisherigen "
     "Landeskontos; es wurde nichts verknüpft.",
     "This account does not act for the company of your previous state "
     "account; nothing was linked."},
    {"login.mailcode.email", "Bitte geben Sie Ihre E-Mail-Adresse an.",
     "Please enter your email address."},
    {"login.mailcode.unavailable",
     "Ein Code per E-Mail ist nur zum Verknüpfen eines bisherigen "
     "Landeskontos möglich.",
     "A code by email is only available to link a previous state account."},
    {"fed.link.notice",
     "Zu Ihrem bisherigen Landeskonto gibt es bereits ein kontor-Konto. "
     "Melden Sie sich damit an, um beide zu verknüpfen.",
     "There already is a kontor account for your previous state account. "
     "Sign in with it to link the two."},

    /* Landing page */
    {"index.title", "kontor", "kontor"},
    {"index.text",
     "Das gemeinsame Unternehmenskonto der Länder. Melden Sie sich über "
     "das Serviceportal an, das Sie nutzen möchten.",
     "The states' shared company account. Sign in through the service "
     "portal you want to use."},

    /* Logout */
    {"logout.title", "Abmelden", "Sign out"},
    {"logout.cancelled.title", "Angemeldet geblieben", "Still signed in"},
    {"logout.cancelled.text",
     "Sie wurden nicht abgemeldet. Sie können dieses Fenster schließen.",
     "You have not been signed out. You can close this window."},

    {"logout.confirm", "Möchten Sie sich von Ihrem Unternehmenskonto abmelden?",
     "Do you want to sign out of your company account?"},
    {"logout.confirm_client",
     "{client} möchte Sie abmelden. Möchten Sie sich von Ihrem "
     "Unternehmenskonto abmelden?",
     "{client} wants to sign you out. Do you want to sign out of your "
     "company account?"},
    {"logout.submit", "Abmelden", "Sign out"},
    {"logout.cancel", "Angemeldet bleiben", "Stay signed in"},
    {"logged_out.title", "Abgemeldet", "Signed out"},
    {"logged_out.text",
     "Sie wurden abgemeldet. Sie können dieses Fenster jetzt schließen.",
     "You have been signed out. You can close this window now."},

    /* Form Post Response Mode */
    {"form_post.title", "Weiterleitung", "Redirecting"},
    {"form_post.text", "Sie werden zur Anwendung zurückgeleitet …",
     "Returning you to the application …"},
    {"form_post.noscript",
     "JavaScript ist ausgeschaltet. Bitte wählen Sie „Weiter“.",
     "JavaScript is turned off. Please select “Continue”."},
    {"form_post.submit", "Weiter", "Continue"},

    /* Error pages */
    {"error.code", "Fehlercode", "Error code"},
    {"error.details", "Details", "Details"},
    {"error.generic.title", "Es ist ein Fehler aufgetreten",
     "Something went wrong"},
    {"error.generic.text", "Ihre Anfrage konnte nicht bearbeitet werden.",
     "Your request could not be processed."},
    {"error.invalid_request.title", "Ungültige Anfrage", "Invalid request"},
    {"error.invalid_request.text",
     "Die Anfrage der Anwendung ist unvollständig oder fehlerhaft.",
     "The application's request is incomplete or malformed."},
    {"error.unauthorized_client.title", "Anwendung nicht berechtigt",
     "Application not authorized"},
    {"error.unauthorized_client.text",
     "Diese Anwendung darf diese Art der Anmeldung nicht verwenden.",
     "This application is not allowed to use this way of signing in."},
    {"error.access_denied.title", "Zugriff verweigert", "Access denied"},
    {"error.access_denied.text", "Der Zugriff wurde verweigert.",
     "Access was denied."},
    {"error.unsupported_response_type.title", "Nicht unterstützte Anfrage",
     "Unsupported request"},
    {"error.unsupported_response_type.text",
     "Die Anwendung hat eine Antwortart angefordert, die nicht unterstützt "
     "wird.",
     "The application asked for a response type that is not supported."},
    {"error.invalid_scope.title", "Ungültige Berechtigungen",
     "Invalid permissions"},
    {"error.invalid_scope.text",
     "Die Anwendung hat unbekannte oder unzulässige Berechtigungen "
     "angefordert.",
     "The application asked for unknown or disallowed permissions."},
    {"error.server_error.title", "Interner Fehler", "Internal error"},
    {"error.server_error.text",
     "Auf dem Server ist ein unerwarteter Fehler aufgetreten. Bitte "
     "versuchen Sie es später erneut.",
     "An unexpected error occurred on the server. Please try again later."},
    {"error.temporarily_unavailable.title", "Vorübergehend nicht verfügbar",
     "Temporarily unavailable"},
    {"error.temporarily_unavailable.text",
     "Der Dienst ist vorübergehend nicht erreichbar. Bitte versuchen Sie es "
     "in einigen Minuten erneut.",
     "The service is temporarily unavailable. Please try again in a few "
     "minutes."},
    {"error.invalid_client.title", "Unbekannte Anwendung",
     "Unknown application"},
    {"error.invalid_client.text",
     "Die Anwendung ist nicht registriert oder konnte nicht "
     "authentifiziert werden.",
     "The application is not registered or could not be authenticated."},
    {"error.invalid_redirect_uri.title", "Ungültige Rücksprungadresse",
     "Invalid return address"},
    {"error.invalid_redirect_uri.text",
     "Die Rücksprungadresse der Anwendung ist nicht registriert.",
     "The application's return address is not registered."},
    {"error.session_expired.title", "Sitzung abgelaufen", "Session expired"},
    {"error.session_expired.text",
     "Ihre Sitzung ist abgelaufen. Bitte kehren Sie zur Anwendung zurück und "
     "versuchen Sie es erneut.",
     "Your session has expired. Please return to the application and try "
     "again."},
    {"error.request_too_large.title", "Anfrage zu groß", "Request too large"},
    {"error.request_too_large.text",
     "Die Anfrage ist zu groß und wurde abgelehnt.",
     "The request is too large and was rejected."},
    {"error.not_found.title", "Seite nicht gefunden", "Page not found"},
    {"error.not_found.text", "Die angeforderte Seite existiert nicht.",
     "The requested page does not exist."},
    {"error.method_not_allowed.title", "Methode nicht erlaubt",
     "Method not allowed"},
    {"error.method_not_allowed.text",
     "Diese Adresse unterstützt die verwendete Anfragemethode nicht.",
     "This address does not support the request method used."},
    {"error.too_many_requests.title", "Zu viele Anfragen", "Too many requests"},
    {"error.too_many_requests.text",
     "Es wurden zu viele Anfragen gestellt. Bitte warten Sie einige Minuten "
     "und versuchen Sie es dann erneut.",
     "Too many requests were made. Please wait a few minutes and try "
     "again."},
};

#define I18N_SIZE (sizeof(i18n_table) / sizeof(i18n_table[0]))

static const struct i18n_entry *i18n_find(const char *key)
{
	if (key == NULL)
		return NULL;
	for (size_t i = 0; i < I18N_SIZE; i++)
		if (strcmp(i18n_table[i].key, key) == 0)
			return &i18n_table[i];
	return NULL;
}

static int is_de(const char *lang)
{
	return lang != NULL && strcmp(lang, KT_I18N_DE) == 0;
}

const char *kt_i18n_lang(const char *lang)
{
	return is_de(lang) ? KT_I18N_DE : KT_I18N_EN;
}

const char *kt_i18n(const char *lang, const char *key)
{
	const struct i18n_entry *e = i18n_find(key);

	if (e == NULL)
		return key;
	return is_de(lang) ? e->de : e->en;
}

int kt_i18n_has(const char *key)
{
	return i18n_find(key) != NULL;
}

size_t kt_i18n_size(void)
{
	return I18N_SIZE;
}

const char *kt_i18n_key_at(size_t i)
{
	return i < I18N_SIZE ? i18n_table[i].key : NULL;
}
